package saml_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"
)

type noReplay struct{}

func (noReplay) Consume(context.Context, string, time.Time) error { return nil }

// BenchmarkACS compares the library's bare ParseXMLResponse with the whole
// of ValidateResponse (screening, structure, profile, library, policy on the
// verified bytes, differential check) on the same response, for each shape.
//
//	go test ./saml -run '^$' -bench ACS -benchtime 300x
func BenchmarkACS(b *testing.B) {
	for _, sh := range shapes {
		fx := newFixture(b, nil)
		b64 := fx.build(sh.base)
		raw, _ := base64.StdEncoding.DecodeString(b64)
		var md crewsaml.EntityDescriptor
		if err := xml.Unmarshal([]byte(idpMetadata(idpEntityID, fx.k.idpCert)), &md); err != nil {
			b.Fatal(err)
		}
		acs, _ := url.Parse(spACS)
		lib := crewsaml.ServiceProvider{
			EntityID:    spEntityID,
			Key:         fx.k.spEnc.Key,
			Certificate: fx.k.spEnc.Certificate,
			AcsURL:      *acs,
			IDPMetadata: &md,
		}
		b.Run(sh.name+"/crewjam", func(b *testing.B) {
			for range b.N {
				if _, err := lib.ParseXMLResponse(raw, []string{requestID}, *acs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sh.name+"/glossa", func(b *testing.B) {
			for range b.N {
				if _, err := fx.sp.ValidateResponse(context.Background(), b64, []string{requestID}, fx.now, noReplay{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
