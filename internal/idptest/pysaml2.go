package idptest

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Where Debian puts pysaml2 and its helpers.
const (
	debianPython    = "/usr/bin/python3"
	xmlsec1         = "/usr/bin/xmlsec1"
	pysaml2Module   = "/usr/lib/python3/dist-packages/saml2/server.py"
	pysaml2Packages = "python3-pysaml2 xmlsec1"
)

// StartPySAML2 starts a SAML 2.0 IdP built on pysaml2's saml2.server.Server
// (our testdata/pysaml2/idp.py, a wsgiref server run by Debian's
// /usr/bin/python3 on a free loopback port) for the SP, with opts.Users and
// the options in opts, waits until it answers, and stops it when the test
// ends.
//
// pysaml2 refuses an AuthnRequest whose AssertionConsumerServiceURL is not
// in the SP's metadata, and releases only the attributes the SP's metadata
// requests when it lists RequestedAttributes.
func StartPySAML2(tb testing.TB, sp SP, opts Options) *IdP {
	tb.Helper()
	need(tb, "pysaml2", pysaml2Packages, debianPython, pysaml2Module, xmlsec1)
	md := prepare(tb, "pysaml2", sp, &opts)

	dir := tb.TempDir()
	copyFiles(tb, "testdata/pysaml2", dir)
	keyPEM, certPEM, cert := keyPair(tb, "pysaml2 idptest")
	writeFile(tb, filepath.Join(dir, "idp.key"), keyPEM)
	writeFile(tb, filepath.Join(dir, "idp.crt"), certPEM)
	writeFile(tb, filepath.Join(dir, "sp-metadata.xml"), sp.MetadataXML)

	// The listening socket is handed to Python as fd 3, so the port cannot
	// be lost between choosing and binding it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("idptest: %v", err)
	}
	defer l.Close()
	lf, err := l.(*net.TCPListener).File()
	if err != nil {
		tb.Fatalf("idptest: %v", err)
	}
	defer lf.Close()
	port := l.Addr().(*net.TCPAddr).Port
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	writeJSON(tb, filepath.Join(dir, "idptest.json"), map[string]any{
		"entityID":              base + "/metadata",
		"baseURL":               base,
		"keyFile":               filepath.Join(dir, "idp.key"),
		"certFile":              filepath.Join(dir, "idp.crt"),
		"spMetadataFile":        filepath.Join(dir, "sp-metadata.xml"),
		"xmlsec1":               xmlsec1,
		"cookieName":            fmt.Sprintf("idptest%d", port),
		"users":                 opts.Users,
		"signResponse":          opts.SignResponse,
		"signAssertion":         opts.SignAssertion,
		"encrypt":               opts.Encrypt,
		"requireSignedRequests": opts.RequireSignedRequests,
		"nameIDFormat":          opts.NameIDFormat,
	})

	// -I: isolated from PYTHONPATH, PYTHONHOME and user site-packages.
	cmd := exec.Command(debianPython, "-I", filepath.Join(dir, "idp.py"), filepath.Join(dir, "idptest.json"))
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{lf} // fd 3
	p, err := start(tb, "pysaml2", cmd, filepath.Join(dir, "pysaml2.log"), nil)
	if err != nil {
		tb.Fatalf("idptest: pysaml2: %v", err)
	}
	lf.Close()
	l.Close()
	if err := p.waitReady(base+"/metadata", startTimeout); err != nil {
		tb.Fatalf("idptest: pysaml2 on %s: %v (its logs follow)", base, err)
	}

	idp := &IdP{
		Kind:           "pysaml2",
		EntityID:       base + "/metadata",
		BaseURL:        base,
		MetadataURL:    base + "/metadata",
		SSOURL:         base + "/sso/redirect",
		SLOURL:         base + "/slo/redirect",
		Certificate:    cert,
		CertificatePEM: certPEM,
		Users:          opts.Users,
		SPEntityID:     md.entityID,
		ACSURL:         md.acs[0],
		logFiles:       p.logs,
	}
	idp.unsolicited = func(relayState string) string {
		q := url.Values{"sp": {md.entityID}}
		if relayState != "" {
			q.Set("RelayState", relayState)
		}
		return base + "/sso/unsolicited?" + q.Encode()
	}
	idp.unsolicitedLogout = func(returnTo string) string {
		return base + "/slo/unsolicited?" + url.Values{"ReturnTo": {returnTo}}.Encode()
	}
	idp.MetadataXML, err = fetch(idp.MetadataURL)
	if err != nil {
		tb.Fatalf("idptest: pysaml2 metadata: %v", err)
	}
	return idp
}
