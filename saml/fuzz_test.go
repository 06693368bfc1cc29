package saml_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"
	"time"

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
	for _, sh := range shapes {
		f.Add(fx.buildXML(sh.base))
		o := sh.base
		o.pysaml2 = true
		f.Add(fx.buildXML(o))
	}
	for _, c := range corpus() {
		if c.mod != nil || c.before != nil {
			continue
		}
		if raw, err := base64.StdEncoding.DecodeString(c.make(fx)); err == nil && len(raw) < 64<<10 {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, xml []byte) {
		start := time.Now()
		res, err := fx.sp.ValidateResponse(context.Background(), base64.StdEncoding.EncodeToString(xml), []string{requestID}, fx.now, newMemoryReplay())
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
		if res.Identity.NameID == evil {
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
	k := keys(f)
	fx := newFixture(f, nil)
	f.Add([]byte(idpMetadata(idpEntityID, k.idpCert, k.idp2Cert)), false)
	f.Add([]byte(idpMetadata(idpEntityID, k.idpCert)), true)
	f.Add([]byte(`<md:EntitiesDescriptor xmlns:md="`+nsMetadata+`">`+idpMetadata(idpEntityID, k.idpCert)[len(`<?xml version="1.0"?>`):]+`</md:EntitiesDescriptor>`), false)
	f.Add([]byte(`<!DOCTYPE x [<!ENTITY e "e">]><x>&e;</x>`), false)
	f.Add([]byte(signedMetadata(f, fx, nil)), true)
	pin := certPEM(k.idp3Cert)
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
