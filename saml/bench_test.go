package saml_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"net/url"
	"testing"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/glossa-dev/glossa/internal/samlattack"
)

type noReplay struct{}

func (noReplay) Consume(context.Context, string, time.Time) error { return nil }

// BenchmarkACS compares the library's bare ParseXMLResponse with the whole
// of ValidateResponse (screening, structure, profile, library, policy on the
// verified bytes, differential check) on the same response, for each shape.
//
//	go test ./saml -run '^$' -bench ACS -benchtime 300x
func BenchmarkACS(b *testing.B) {
	for _, sh := range samlattack.Shapes() {
		fx := newFixture(b, nil)
		b64 := fx.Build(sh.Base)
		raw, _ := base64.StdEncoding.DecodeString(b64)
		var md crewsaml.EntityDescriptor
		if err := xml.Unmarshal([]byte(fx.Keys.IdPMetadata(samlattack.IdPEntityID, fx.Keys.IdPCert)), &md); err != nil {
			b.Fatal(err)
		}
		acs, _ := url.Parse(spACS)
		lib := crewsaml.ServiceProvider{
			EntityID:    spEntityID,
			Key:         fx.Keys.SPEnc.Key,
			Certificate: fx.Keys.SPEnc.Certificate,
			AcsURL:      *acs,
			IDPMetadata: &md,
		}
		b.Run(sh.Name+"/crewjam", func(b *testing.B) {
			for range b.N {
				if _, err := lib.ParseXMLResponse(raw, []string{samlattack.RequestID}, *acs); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(sh.Name+"/glossa", func(b *testing.B) {
			for range b.N {
				if _, err := fx.sp.ValidateResponse(context.Background(), b64, []string{samlattack.RequestID}, fx.Now, noReplay{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
