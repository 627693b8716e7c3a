package scanner

// DetectorOption configures NewDetector.
type DetectorOption func(*Detector)

// WithInlineAllow sets whether a line carrying AllowComment drops the
// hits on it (true, the default). With false they are kept, so that a
// caller can tell which findings an inline allow hides and decide for
// itself whether to honour it (the GitHub Action does so for pull
// requests, which must not be able to allow their own leaks).
func WithInlineAllow(honour bool) DetectorOption {
	return func(d *Detector) { d.keepAllowed = !honour }
}
