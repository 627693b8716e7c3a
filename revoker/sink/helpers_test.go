package sink

import (
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/leakstop/leakstop/secret"
)

// randHex returns 2n random hex digits; tests build credential-shaped
// values from it at run time.
func randHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newDelivery makes an auth-token delivery with a fresh account SID and
// token.
func newDelivery(t testing.TB) Delivery {
	return Delivery{
		AccountSID: "AC" + randHex(t, 16),
		Kind:       KindAuthToken,
		Secret:     secret.New(randHex(t, 16)),
		RotationID: "rot-" + randHex(t, 4),
	}
}

// newAPIKeyDelivery makes an api-key delivery with a fresh key SID and
// secret.
func newAPIKeyDelivery(t testing.TB) Delivery {
	d := newDelivery(t)
	d.Kind = KindAPIKey
	d.KeySID = "SK" + randHex(t, 16)
	return d
}
