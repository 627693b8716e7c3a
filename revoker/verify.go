package revoker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/sourcegraph/conc/pool"

	"github.com/leakstop/leakstop/revoker/twilio"
	"github.com/leakstop/leakstop/secret"
	"github.com/leakstop/leakstop/state"
)

// Verification statuses.
const (
	StatusLive    = state.StatusLive
	StatusDead    = state.StatusDead
	StatusUnknown = state.StatusUnknown
	StatusTest    = state.StatusTest
)

// assessment is one distinct credential of a run and what is known of it.
type assessment struct {
	leak   Leak   // the first occurrence; Locations merged from all
	fp     string // the store's keyed hash of the credential
	status string // StatusLive, StatusDead, StatusUnknown, StatusTest
	detail string // why, for unknown (never a secret)
	// unreachable: unknown because Twilio was not reached (see
	// isUnreachable), not because its answer was inconclusive.
	unreachable bool
	accountSID  string // the account, resolved for API keys
	mainKey     bool   // an API key that may manage its account (it read /Accounts)
	verified    bool   // verify ran (mainKey is known)
	account     *AccountConfig
}

// assess deduplicates leaks by credential and verifies each distinct one
// once, with bounded concurrency, recording every result in the store.
func (rv *Revoker) assess(ctx context.Context, leaks []Leak) ([]*assessment, error) {
	var out []*assessment
	byFP := map[string]*assessment{}
	for _, l := range leaks {
		fp := rv.d.Store.Hash(l.identity())
		if a, ok := byFP[fp]; ok {
			a.leak.Locations = append(a.leak.Locations, l.Locations...)
			a.leak.Test = a.leak.Test || l.Test
			continue
		}
		l.Locations = append([]Location(nil), l.Locations...)
		a := &assessment{leak: l, fp: fp, accountSID: l.AccountSID}
		byFP[fp] = a
		out = append(out, a)
	}
	p := pool.New().WithErrors().WithContext(ctx).WithMaxGoroutines(rv.cfg.Concurrency)
	for _, a := range out {
		p.Go(func(ctx context.Context) error {
			rv.verify(ctx, a)
			a.account = rv.cfg.Account(a.accountSID)
			_, err := rv.d.Store.RecordVerification(ctx, state.Verification{
				Fingerprint: a.fp, Kind: a.leak.Kind, AccountSID: a.accountSID, KeySID: a.leak.KeySID,
				Status: a.status, Detail: secret.Scrub(a.detail, a.leak.Secret), Actor: rv.d.Actor,
			})
			return err
		})
	}
	if err := p.Wait(); err != nil {
		return nil, fmt.Errorf("verify credentials: %w", err)
	}
	return out, nil
}

// verify sets a.status: test credentials are labelled and never rotated; a
// credential that authenticates against the live API is not a test
// credential whatever the scanner guessed (Twilio's test credentials cannot
// read any resource).
func (rv *Revoker) verify(ctx context.Context, a *assessment) {
	a.verified = true
	l := a.leak
	if msg := l.malformed(); msg != "" {
		a.status, a.detail = StatusUnknown, msg
		return
	}
	switch l.Kind {
	case KindAuthToken:
		v := rv.d.Twilio.Verify(ctx, l.AccountSID, twilio.Credential{Username: l.AccountSID, Password: l.Secret})
		a.setFrom(v)
	case KindAPIKey:
		rv.verifyKey(ctx, a)
	}
	if a.status != StatusLive && l.Test {
		a.status, a.detail = StatusTest, "labelled test credentials by the scanner"
	}
}

func (a *assessment) setFrom(v twilio.Verification) {
	switch {
	case v.Test:
		a.status, a.detail = StatusTest, "Twilio answered 403 / 20008: test credentials"
	case v.Status == twilio.StatusLive:
		a.status = StatusLive
	case v.Status == twilio.StatusDead:
		a.status = StatusDead
	default:
		a.status = StatusUnknown
		if v.Err != nil {
			a.detail = v.Err.Error()
			a.unreachable = isUnreachable(v.Err)
		}
	}
}

// isUnreachable reports whether err means that Twilio was not reached or
// did not answer (a network error, a timeout): not an HTTP answer from it
// (*twilio.Error, even a 5xx), nor a response that could not be read.
func isUnreachable(err error) bool {
	var te *twilio.Error
	if err == nil || errors.As(err, &te) || errors.Is(err, twilio.ErrMalformedResponse) {
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}

// verifyKey verifies an API key. A Main key proves itself by reading its
// account. A Standard key cannot (Twilio answers 401 for a live Standard key
// as for a deleted one), so for accounts whose owner credential is
// configured the key is looked up with that credential: present means
// live, absent means dead.
func (rv *Revoker) verifyKey(ctx context.Context, a *assessment) {
	l := a.leak
	v := rv.d.Twilio.Verify(ctx, l.AccountSID, twilio.Credential{Username: l.KeySID, Password: l.Secret})
	if v.Status == twilio.StatusLive {
		a.status, a.mainKey = StatusLive, true
		if v.Account != nil && v.Account.SID != "" {
			a.accountSID = v.Account.SID
		}
		if a.accountSID == "" {
			a.status, a.detail = StatusUnknown, "the key works but its account could not be determined"
		}
		return
	}
	a.setFrom(v)
	if v.Test {
		return
	}
	var candidates []*AccountConfig
	if l.AccountSID != "" {
		if acct := rv.cfg.Account(l.AccountSID); acct != nil {
			candidates = append(candidates, acct)
		}
	} else {
		for i := range rv.cfg.Accounts {
			candidates = append(candidates, &rv.cfg.Accounts[i])
		}
	}
	var problems []string
	for _, acct := range candidates {
		owner := rv.ownerSecret(acct)
		if owner.IsZero() {
			problems = append(problems, fmt.Sprintf("no credential_env value for %s", acct.Label()))
			continue
		}
		_, err := rv.d.Twilio.FetchKey(ctx, acct.SID, l.KeySID, twilio.Credential{Username: acct.SID, Password: owner})
		switch {
		case err == nil:
			a.status, a.detail, a.accountSID = StatusLive, "the key exists (looked up with the account's credential)", acct.SID
			return
		case twilio.IsNotFound(err) && l.AccountSID != "":
			a.status, a.detail = StatusDead, "the key no longer exists in its account"
			return
		case twilio.IsNotFound(err):
			continue
		default:
			problems = append(problems, secret.Scrub(err.Error(), owner))
			a.unreachable = isUnreachable(err)
		}
	}
	a.status = StatusUnknown
	switch {
	case len(problems) > 0:
		a.detail = strings.Join(problems, "; ")
	case l.AccountSID == "" && len(candidates) > 0:
		a.detail = "the key is not in any configured account and could not be verified on its own (a Standard key cannot read its account)"
	case len(candidates) == 0:
		a.detail = "a Standard API key cannot be verified on its own, and its account is not in the configuration"
	}
}

// malformed says what makes a leak unusable, or "".
func (l Leak) malformed() string {
	switch {
	case l.Kind != KindAuthToken && l.Kind != KindAPIKey:
		return fmt.Sprintf("unknown credential kind %q", l.Kind)
	case l.Secret.IsZero():
		return "no secret"
	case l.Kind == KindAuthToken && l.AccountSID == "":
		return "no Account SID paired with the token"
	case l.Kind == KindAuthToken && !twilio.IsAccountSID(l.AccountSID):
		return "the paired Account SID is malformed"
	case l.Kind == KindAPIKey && !twilio.IsKeySID(l.KeySID):
		return "no valid API key SID paired with the secret"
	case l.Kind == KindAPIKey && l.AccountSID != "" && !twilio.IsAccountSID(l.AccountSID):
		return "the paired Account SID is malformed"
	}
	return ""
}

var errNoCredential = errors.New("no usable credential")
