package secret

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// hexVerb is a variable so vet lets the test try %x on a struct.
var hexVerb = "%x %X"

func TestValueNeverPrints(t *testing.T) {
	raw := strings.Repeat("q7", 16)
	v := New(raw)
	outs := []string{
		fmt.Sprint(v), fmt.Sprintf("%v %+v %#v %s %q %x", v, v, v, v, v, v),
		fmt.Sprintf("%v", struct{ S Value }{v}), fmt.Sprintf("%+v", &struct{ S Value }{v}),
		fmt.Sprintf("%v %+v %#v", struct{ s Value }{v}, &struct{ s Value }{v}, struct{ s Value }{v}),
		fmt.Sprint(struct{ P *struct{ s Value } }{&struct{ s Value }{v}}),
		fmt.Sprintf(hexVerb, struct{ s Value }{v}),
	}
	b, err := json.Marshal(struct{ S Value }{v})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(b))
	for _, o := range outs {
		if strings.Contains(o, raw) || strings.Contains(strings.ToLower(o), fmt.Sprintf("%x", raw)) {
			t.Errorf("secret revealed in %q", o)
		}
	}
	if v.Reveal() != raw {
		t.Fatal("Reveal lost the value")
	}
}

func TestRedact(t *testing.T) {
	if got := Redact("abc"); got != "*****" {
		t.Errorf("short: %q", got)
	}
	if got := Redact("abcdefghijklmnop"); got != "abcd…[REDACTED]" {
		t.Errorf("long: %q", got)
	}
	if Hash([]byte("k1"), "x") == Hash([]byte("k2"), "x") {
		t.Error("hash ignores key")
	}
}
