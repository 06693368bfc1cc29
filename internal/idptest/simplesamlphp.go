package idptest

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Where Debian's simplesamlphp package (1.19 in bookworm) and PHP put
// things.
const (
	simpleSAMLphpDir      = "/usr/share/simplesamlphp"
	simpleSAMLphpWWW      = simpleSAMLphpDir + "/www"
	php                   = "/usr/bin/php"
	simpleSAMLphpPackages = "simplesamlphp php-cli php-xml"
)

// StartSimpleSAMLphp starts SimpleSAMLphp (Debian's package, served by
// PHP's built-in web server on a free loopback port) as a SAML 2.0 IdP with
// an exampleauth:UserPass source holding opts.Users, registers the SP from
// its metadata with the options in opts, waits until it answers, and stops
// it when the test ends. The configuration lives in a temporary directory
// named by SIMPLESAMLPHP_CONFIG_DIR; nothing under /etc or /usr is touched.
//
// SimpleSAMLphp answers at the AssertionConsumerService the AuthnRequest
// names only if the SP's metadata lists it; otherwise at the metadata's
// default, silently. It encrypts assertions only with AES128CBC: any other
// opts.Encrypt fails the test.
func StartSimpleSAMLphp(tb testing.TB, sp SP, opts Options) *IdP {
	tb.Helper()
	need(tb, "SimpleSAMLphp", simpleSAMLphpPackages,
		php, simpleSAMLphpWWW+"/saml2/idp/SSOService.php",
		// php-xml: SimpleSAMLphp needs DOM, which Debian's php-cli lacks.
		"/usr/lib/php/*/dom.so")
	md := prepare(tb, "SimpleSAMLphp", sp, &opts)
	if opts.Encrypt != "" && opts.Encrypt != AES128CBC {
		tb.Fatalf("idptest: SimpleSAMLphp 1.19 encrypts assertions for an SP's certificate only with %s "+
			"(the session key algorithm is fixed in its SAML2 library; sharedkey_algorithm applies only to a shared key); "+
			"use StartPySAML2 for %s", AES128CBC, opts.Encrypt)
	}

	dir := tb.TempDir()
	confDir := filepath.Join(dir, "config")
	copyFiles(tb, "testdata/simplesamlphp", confDir)
	for _, d := range []string{"cert", "log", "data", "tmp", "sessions"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	keyPEM, certPEM, cert := keyPair(tb, "SimpleSAMLphp idptest")
	writeFile(tb, filepath.Join(dir, "cert", "idp.key"), keyPEM)
	writeFile(tb, filepath.Join(dir, "cert", "idp.crt"), certPEM)
	writeFile(tb, filepath.Join(confDir, "sp-metadata.xml"), sp.MetadataXML)

	spOptions := map[string]any{
		"saml20.sign.response":  opts.SignResponse,
		"saml20.sign.assertion": opts.SignAssertion,
		"assertion.encryption":  opts.Encrypt != "",
		"signature.algorithm":   URIRSASHA256,
		"validate.authnrequest": opts.RequireSignedRequests,
		"validate.logout":       opts.RequireSignedRequests,
		"sign.logout":           true,
		"attributes.NameFormat": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
	}
	if len(opts.Audiences) > 0 {
		spOptions["audience"] = opts.Audiences
	}

	logFile := filepath.Join(dir, "log", "php-server.log")
	sspLog := filepath.Join(dir, "log", "simplesamlphp.log")
	var (
		p    *process
		base string
		err  error
	)
	// PHP's server binds the port itself, so another process may take it
	// between freePort and the bind: try again on a new port then.
	for attempt := 0; ; attempt++ {
		port, perr := freePort()
		if perr != nil {
			tb.Fatalf("idptest: %v", perr)
		}
		base = fmt.Sprintf("http://127.0.0.1:%d", port)
		writeJSON(tb, filepath.Join(confDir, "idptest.json"), map[string]any{
			"dir":           dir,
			"baseURL":       base,
			"entityID":      base + "/saml2/idp/metadata.php",
			"secretSalt":    randomHex(16),
			"adminPassword": randomHex(16),
			"cookiePrefix":  fmt.Sprintf("IdPTest%d", port),
			"nameIDFormat":  opts.NameIDFormat,
			"users":         opts.Users,
			"spOptions":     spOptions,
			"trustedHosts":  md.hosts,
		})
		cmd := exec.Command(php,
			"-d", "display_errors=0", "-d", "log_errors=1", "-d", "error_log=",
			"-d", "session.save_path="+filepath.Join(dir, "sessions"),
			"-S", fmt.Sprintf("127.0.0.1:%d", port), "-t", simpleSAMLphpWWW)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+confDir)
		p, err = start(tb, "SimpleSAMLphp", cmd, logFile, []string{sspLog})
		if err != nil {
			tb.Fatalf("idptest: SimpleSAMLphp: %v", err)
		}
		err = p.waitReady(base+"/saml2/idp/metadata.php", startTimeout)
		if err == nil {
			break
		}
		if attempt < 2 && p.exited() && strings.Contains(readLogs([]string{logFile}), "Address already in use") {
			continue
		}
		tb.Fatalf("idptest: SimpleSAMLphp on %s: %v (its logs follow)", base, err)
	}

	idp := &IdP{
		Kind:           "simplesamlphp",
		EntityID:       base + "/saml2/idp/metadata.php",
		BaseURL:        base,
		MetadataURL:    base + "/saml2/idp/metadata.php",
		SSOURL:         base + "/saml2/idp/SSOService.php",
		SLOURL:         base + "/saml2/idp/SingleLogoutService.php",
		Certificate:    cert,
		CertificatePEM: certPEM,
		Users:          opts.Users,
		SPEntityID:     md.entityID,
		ACSURL:         md.acs[0],
		logFiles:       p.logs,
	}
	idp.unsolicited = func(relayState string) string {
		q := url.Values{"spentityid": {md.entityID}}
		if relayState != "" {
			q.Set("RelayState", relayState)
		}
		return idp.SSOURL + "?" + q.Encode()
	}
	idp.unsolicitedLogout = func(returnTo string) string {
		return idp.SLOURL + "?" + url.Values{"ReturnTo": {returnTo}}.Encode()
	}
	idp.MetadataXML, err = fetch(idp.MetadataURL)
	if err != nil {
		tb.Fatalf("idptest: SimpleSAMLphp metadata: %v", err)
	}
	return idp
}
