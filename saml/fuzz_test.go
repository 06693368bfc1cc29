package saml_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

	"github.com/glossa-dev/glossa/internal/samlattack"
	"github.com/glossa-dev/glossa/saml"
)

// FuzzValidateResponse feeds arbitrary XML to the ACS, seeded with valid
// responses of every shape (also with pysaml2's prefixes, which take the
// prefix-view path) and with the attack corpus. Nothing may panic
// (a recovered panic is a failure too), every error must be a
// *saml.RejectError, and nothing unsigned may be accepted.
//
//	go test ./saml -run '^$' -fuzz FuzzValidateResponse -fuzztime 30s
func FuzzValidateResponse(f *testing.F) {
	fx := newFixture(f, nil)
	for _, sh := range samlattack.Shapes() {
		f.Add(fx.BuildXML(sh.Base))
		o := sh.Base
		o.PySAML2 = true
		f.Add(fx.BuildXML(o))
	}
	for _, c := range samlattack.Corpus() {
		if c.Setup != nil || c.Before != nil {
			continue
		}
		if raw, err := base64.StdEncoding.DecodeString(c.Make(fx.Fixture)); err == nil && len(raw) < 64<<10 {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, xml []byte) {
		start := time.Now()
		res, err := fx.sp.ValidateResponse(context.Background(), base64.StdEncoding.EncodeToString(xml), []string{samlattack.RequestID}, fx.Now, newMemoryReplay())
		if d := time.Since(start); d > time.Second {
			t.Fatalf("took %s", d)
		}
		if err != nil {
			var rj *saml.RejectError
			if !errors.As(err, &rj) {
				t.Fatalf("error %T is not a RejectError: %v", err, err)
			}
			if rj.Code == saml.RejectPanic {
				t.Fatalf("panic: %s", rj.Reason)
			}
			return
		}
		if !res.ResponseSigned && !res.AssertionSigned {
			t.Fatalf("accepted an unsigned response")
		}
		if res.Identity.NameID == samlattack.Evil {
			t.Fatalf("accepted a forged identity")
		}
	})
}

// FuzzParseIdPMetadata feeds arbitrary metadata to the parser, with and
// without a pinned signing certificate. It must not panic, and an accepted
// document must name an IdP with a certificate and an SSO endpoint.
//
//	go test ./saml -run '^$' -fuzz FuzzParseIdPMetadata -fuzztime 30s
func FuzzParseIdPMetadata(f *testing.F) {
	k := samlattack.MustKeys(f)
	fx := newFixture(f, nil)
	f.Add([]byte(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert, k.IdP2Cert)), false)
	f.Add([]byte(k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert)), true)
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="`+samlattack.NSMetadata+`">`+k.IdPMetadata(samlattack.IdPEntityID, k.IdPCert)[len(`<?xml version="1.0"?>`):]+`</md:EntitiesDescriptor>`), false)
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>`), false)
	f.Add([]byte(signedMetadata(f, fx, nil)), true)
	pin := certPEM(k.IdP3Cert)
	f.Fuzz(func(t *testing.T, xml []byte, pinned bool) {
		p := ""
		if pinned {
			p = pin
		}
		md, err := saml.ParseIdPMetadata(xml, p)
		if err != nil {
			return
		}
		if md.EntityID == "" || len(md.SigningCerts) == 0 || md.SSORedirectURL == "" || (pinned && !md.Signed) {
			t.Fatalf("accepted incomplete metadata: %+v", md)
		}
	})
}
