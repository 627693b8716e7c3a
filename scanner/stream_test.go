package scanner

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestStreamWindowsAgree: content scanned in small overlapping windows
// gives the hits of the whole buffer — same values, lines, columns and
// offsets — wherever the window edges fall: a value cut by an edge, a
// key name and its value on either side of one.
func TestStreamWindowsAgree(t *testing.T) {
	d := gitTestDetector(t)
	c := newCreds(t, 7)
	const window, overlap = 32 << 10, 16 << 10
	var b strings.Builder
	for i := 0; b.Len() < 12*window; i++ {
		sid, tok := c.pair()
		// Lines of varying length so that values fall on every offset
		// modulo the window; one long line without a newline.
		fmt.Fprintf(&b, "filler %s\n", strings.Repeat("x", (i*977)%3000))
		if i%2 == 0 {
			fmt.Fprintf(&b, "{\"a\":%q,\"TWILIO_ACCOUNT_SID\":%q,\"TWILIO_AUTH_TOKEN\":%q}", strings.Repeat("y", 9000+(i*7919)%20000), sid, tok)
		} else {
			b.WriteString(envFile(sid, tok, i%3))
		}
	}
	data := []byte(b.String())
	want := d.Hits(data)
	if len(want) < 20 {
		t.Fatalf("only %d hits in the whole buffer", len(want))
	}
	for _, shift := range []int{0, 1, 17, 333, 4099} {
		in := append(bytes.Repeat([]byte("z"), shift), data...)
		in[shift-min(shift, 1)] = '\n'
		ref := d.Hits(in)
		for _, size := range []int64{-1, int64(len(in)), 100} {
			got, st, err := d.streamHitsSized(bytes.NewReader(in), size, window, overlap)
			if err != nil || st.binary || st.bytes != int64(len(in)) {
				t.Fatalf("shift %d: %v binary=%v bytes=%d", shift, err, st.binary, st.bytes)
			}
			if g, w := hitsText(got), hitsText(ref); g != w {
				t.Fatalf("shift %d size %d: windowed hits differ from whole-buffer hits:\n got %d: %.2000s\nwant %d: %.2000s", shift, size, len(got), g, len(ref), w)
			}
		}
		got, _ := d.sliceHitsSized(in, window, overlap)
		if g, w := hitsText(got), hitsText(ref); g != w {
			t.Fatalf("shift %d: windowed slice hits differ from whole-buffer hits", shift)
		}
	}
}

func hitsText(hs []Hit) string {
	var b strings.Builder
	for _, h := range hs {
		fmt.Fprintf(&b, "%s@%d:%d-%d/%d %s|", h.Rule.ID, h.Line, h.Column, h.EndColumn, h.Offset, h.Encoding)
	}
	return b.String()
}

// TestLargeFilesScannedByDefault: a 40 MB minified bundle (one line)
// with a credential in its middle is found by default — it was skipped
// as over 32 MiB — at the right column and offset.
func TestLargeFilesScannedByDefault(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 40 MB file")
	}
	d := gitTestDetector(t)
	sid, tok := newCreds(t, 9).pair()
	dir := t.TempDir()
	var b bytes.Buffer
	chunk := []byte(`function a(b){return b.map(function(c){return c*2})};var q="` + strings.Repeat("k", 40) + `";`)
	for b.Len() < 20<<20 {
		b.Write(chunk)
	}
	mid := fmt.Sprintf(`var cfg={accountSid:"%s",authToken:"%s"};`, sid, tok)
	off := b.Len() + strings.Index(mid, tok)
	b.WriteString(mid)
	for b.Len() < 40<<20 {
		b.Write(chunk)
	}
	if err := os.WriteFile(filepath.Join(dir, "bundle.min.js"), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res := collectT(t, DirSource{Root: dir})
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid {
		t.Fatalf("findings %v, want the pair in the 40 MB bundle", where(res))
	}
	l := res.Findings[0].Locations[0]
	if l.Line != 1 || l.Column != off+1 || l.Offset != int64(off) || l.Binary {
		t.Fatalf("location %+v, want line 1 column %d offset %d", l, off+1, off)
	}
	if res.Stats.SkippedLarge != 0 || res.Stats.Files != 1 {
		t.Fatalf("stats %+v", res.Stats)
	}
	// --max-file-size stays an explicit opt-out.
	res = collectT(t, DirSource{Root: dir, Options: Options{MaxFileSize: 1 << 20}})
	if len(res.Findings) != 0 || res.Stats.SkippedLarge != 1 {
		t.Fatalf("with MaxFileSize: %v %+v", where(res), res.Stats)
	}
	_ = d
}

// TestSQLiteDatabaseScanned: a credential stored in a SQLite database
// (a binary file) is found, located by byte offset.
func TestSQLiteDatabaseScanned(t *testing.T) {
	sid, tok := newCreds(t, 11).pair()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`CREATE TABLE settings (name TEXT, value TEXT)`,
		`INSERT INTO settings VALUES ('title', 'My app')`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO settings VALUES ('env', ?)`, envFile(sid, tok, 2)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if Text(raw) != nil {
		t.Fatal("the database does not look binary")
	}
	res := collectT(t, DirSource{Root: dir})
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid {
		t.Fatalf("findings %v, want the pair in app.db", where(res))
	}
	l := res.Findings[0].Locations[0]
	if !l.Binary || string(raw[l.Offset:l.Offset+int64(len(tok))]) != tok {
		t.Fatalf("location %+v does not point at the token", l)
	}
	if res.Stats.Binary != 1 || res.Stats.SkippedBinary != 0 {
		t.Fatalf("stats %+v", res.Stats)
	}
}

// TestUTF16RunsInBinary: a credential in UTF-16LE strings of a binary
// (a compiled resource) is found at its byte offset.
func TestUTF16RunsInBinary(t *testing.T) {
	sid, tok := newCreds(t, 13).pair()
	utf16 := func(s string) []byte {
		var out []byte
		for i := range len(s) {
			out = append(out, s[i], 0)
		}
		return out
	}
	var b bytes.Buffer
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0})
	b.Write(bytes.Repeat([]byte{0x90, 0, 0xc3}, 100))
	b.Write(utf16("TWILIO_ACCOUNT_SID=" + sid))
	b.Write([]byte{0, 0, 1, 2})
	b.Write(utf16("TWILIO_AUTH_TOKEN="))
	off := b.Len()
	b.Write(utf16(tok))
	b.Write([]byte{0, 0, 0xff})
	res, err := Collect(context.Background(), gitTestDetector(t), ReaderSource{Name: "app.exe", R: bytes.NewReader(b.Bytes())})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid {
		t.Fatalf("findings %v, want the UTF-16 pair", where(res))
	}
	if l := res.Findings[0].Locations[0]; l.Offset != int64(off) || !l.Binary || !strings.HasPrefix(l.Encoding, "utf-16le") {
		t.Fatalf("location %+v, want offset %d", l, off)
	}
}

// TestLargeBlobInHistory: a committed file larger than the large-blob
// stream size (loose, as after "git commit") is scanned as a stream and
// its credential found at its line.
func TestLargeBlobInHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("commits a 20 MB file")
	}
	r := newTestRepo(t)
	sid, tok := newCreds(t, 17).pair()
	var b strings.Builder
	line := "2026-11-30 INFO request served in 12 ms by worker seven\n"
	for b.Len() < 10<<20 {
		b.WriteString(line)
	}
	n := strings.Count(b.String(), "\n")
	b.WriteString(envFile(sid, tok, 0))
	for b.Len() < 20<<20 {
		b.WriteString(line)
	}
	r.write("logs/big.log", b.String())
	r.commit("add a big log")
	res := scanGitT(t, r.dir, GitOptions{})
	if len(res.Findings) != 1 || res.Findings[0].Identifier != sid {
		t.Fatalf("findings %v, want the pair in the 20 MB blob", where(res))
	}
	if l := res.Findings[0].Locations[0]; l.Line != n+2 || l.State != StateCommitted || l.Commit == nil {
		t.Fatalf("location %+v, want line %d, committed", l, n+2)
	}
}
