package saml_test

// The attack corpus (internal/samlattack) against the ServiceProvider:
// every case must come back as a *saml.RejectError of the expected class,
// without a panic. cmd/glossa runs the same corpus through the server's
// HTTP ACS.

import (
	"errors"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// TestAttackCorpus runs the corpus: every case is refused with the expected
// class, as a *saml.RejectError with a reason, without a panic.
func TestAttackCorpus(t *testing.T) {
	cases := samlattack.Corpus()
	if len(cases) < 150 {
		t.Errorf("corpus has %d cases, want at least 150", len(cases))
	}
	names := map[string]bool{}
	for _, c := range cases {
		if names[c.Name] {
			t.Errorf("duplicate case name %q", c.Name)
		}
		names[c.Name] = true
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			f := newFixture(t, c.Setup)
			b64 := c.Make(f.Fixture)
			if c.Before != nil {
				if _, err := f.parse(c.Before(f.Fixture, b64)); err != nil {
					t.Fatalf("first use: %v", err)
				}
			}
			start := time.Now()
			res, err := f.parse(b64)
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("took %s", d)
			}
			if err == nil {
				t.Fatalf("ACCEPTED as %q (want %s)", res.Identity.NameID, c.Want)
			}
			var rj *saml.RejectError
			if !errors.As(err, &rj) {
				t.Fatalf("error %T %v is not a *saml.RejectError", err, err)
			}
			if rj.Code == saml.RejectPanic {
				t.Fatalf("panicked: %s", rj.Reason)
			}
			t.Logf("%s: %s", rj.Code, rj.Reason)
			if rj.Code != c.Want || rj.Reason == "" {
				t.Errorf("code %s, want %s; reason: %s", rj.Code, c.Want, rj.Reason)
			}
		})
	}
}
