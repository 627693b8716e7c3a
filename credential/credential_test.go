package credential

import "testing"

func TestRotatable(t *testing.T) {
	for k, want := range map[Kind]bool{AuthToken: true, APIKey: true, "secret": false, "": false} {
		if got := k.Rotatable(); got != want {
			t.Errorf("%q.Rotatable() = %v, want %v", k, got, want)
		}
	}
	if AuthToken.String() != "auth-token" || APIKey.String() != "api-key" {
		t.Error("the kinds' spelling changed: rules files and reports use it")
	}
}
