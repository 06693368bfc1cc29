package idptest

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"embed"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

//go:embed testdata/simplesamlphp testdata/pysaml2/idp.py
var files embed.FS

// Values of Options.Encrypt: the data-encryption algorithm of an encrypted
// assertion. The AES key is always wrapped with RSA-OAEP (XML Encryption
// rsa-oaep-mgf1p, SHA-1 digest and MGF1) under the SP's encryption
// certificate.
const (
	AES128CBC = "aes128-cbc"
	AES256CBC = "aes256-cbc"
	AES128GCM = "aes128-gcm"
	AES256GCM = "aes256-gcm"
)

// Algorithm URIs in the IdPs' messages: the XML Encryption data algorithms
// of Options.Encrypt, the RSA-OAEP key transport, and the XML Signature
// method and digest both IdPs sign with.
const (
	URIAES128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
	URIAES256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"
	URIAES128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
	URIAES256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
	URIRSAOAEP   = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
	URIRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	URISHA256    = "http://www.w3.org/2001/04/xmlenc#sha256"
)

// NameID formats the IdPs issue (SAML Core 8.3).
const (
	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

// EncryptionAlgorithm returns the XML Encryption URI of an Options.Encrypt
// value, or "" for an unknown one.
func EncryptionAlgorithm(encrypt string) string {
	switch encrypt {
	case AES128CBC:
		return URIAES128CBC
	case AES256CBC:
		return URIAES256CBC
	case AES128GCM:
		return URIAES128GCM
	case AES256GCM:
		return URIAES256GCM
	}
	return ""
}

// SP is the service provider an IdP is configured for.
type SP struct {
	// MetadataXML is the SP's SAML 2.0 metadata as the SP serves it: an
	// EntityDescriptor (or an EntitiesDescriptor holding one) with an
	// SPSSODescriptor that has at least one HTTP-POST
	// AssertionConsumerService and, to receive encrypted assertions, a
	// KeyDescriptor for encryption (use="encryption" or no use). The IdP
	// software parses it itself, as an operator importing it would.
	MetadataXML []byte
}

// Options choose how the IdP answers. The zero value gives unsigned,
// unencrypted responses with the default users: set at least one of
// SignResponse and SignAssertion for a response an SP should accept.
type Options struct {
	// SignResponse signs the samlp:Response (enveloped RSA-SHA256, SHA-256
	// digest, the IdP's certificate in KeyInfo).
	SignResponse bool
	// SignAssertion signs the saml:Assertion, before encryption when
	// Encrypt is set (the signature is then inside the EncryptedAssertion).
	SignAssertion bool
	// Encrypt, when not empty, encrypts the assertion for the SP with this
	// algorithm (AES128CBC, AES256CBC, AES128GCM, AES256GCM) and RSA-OAEP
	// key transport. SimpleSAMLphp 1.19 can only do AES128CBC.
	Encrypt string
	// RequireSignedRequests makes the IdP refuse AuthnRequests and
	// LogoutRequests (SimpleSAMLphp: also LogoutResponses) that are not
	// signed with one of the signing certificates in the SP's metadata.
	// HTTP-Redirect signatures (SigAlg and Signature query parameters) are
	// what both IdPs check. Without it, unsigned requests are accepted.
	RequireSignedRequests bool
	// NameIDFormat is the NameID format used when neither the
	// AuthnRequest's NameIDPolicy nor the SP's metadata names one the IdP
	// supports. Default NameIDPersistent. Whatever the format, the value is
	// the user's email for NameIDEmail, a random ID for NameIDTransient and
	// the username otherwise.
	NameIDFormat string
	// Users who can sign in; nil means DefaultUsers().
	Users []User
	// Audiences are added to the assertion's AudienceRestriction beside
	// the SP's entity ID, as an IdP does for a response that is also
	// redeemed at AWS STS (urn:amazon:webservices). SimpleSAMLphp only.
	Audiences []string
}

// User is a person the IdP knows. Attributes are released under these
// names with NameFormat basic: uid (Username), email, givenName
// (FirstName), sn (LastName), groups (one value per group). Empty ones are
// left out.
type User struct {
	Username  string   `json:"username"`
	Password  string   `json:"password"`
	Email     string   `json:"email"`
	FirstName string   `json:"firstName"`
	LastName  string   `json:"lastName"`
	Groups    []string `json:"groups"`
	// Attributes are released as well, under their own names (such as
	// AWS's https://aws.amazon.com/SAML/Attributes/Role). SimpleSAMLphp only.
	Attributes map[string][]string `json:"attributes,omitempty"`
}

// DefaultUsers returns the users an IdP has unless Options.Users says
// otherwise: alice (several groups, one with XML special characters),
// bjorn (non-ASCII names, one group), carol (ManyGroups groups) and dave
// (no groups). Each password is the username followed by "-password".
func DefaultUsers() []User {
	many := []string{"glossa-reviewers"}
	for i := 1; len(many) < ManyGroups; i++ {
		many = append(many, fmt.Sprintf("team-%03d", i))
	}
	return []User{
		{Username: "alice", Password: "alice-password", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell",
			Groups: []string{"glossa-owners", "glossa-annotators", "Data Science", "R&D <labs>"}},
		{Username: "bjorn", Password: "bjorn-password", Email: "bjorn@example.com", FirstName: "Bjørn", LastName: "Ødegård",
			Groups: []string{"glossa-annotators"}},
		{Username: "carol", Password: "carol-password", Email: "carol@example.com", FirstName: "Carol", LastName: "Manygroups",
			Groups: many},
		{Username: "dave", Password: "dave-password", Email: "dave@example.com", FirstName: "Dave", LastName: "Nogroups"},
	}
}

// ManyGroups is how many groups DefaultUsers' carol is in.
const ManyGroups = 150

// IdP is a running identity provider. It stops when the test that started
// it ends.
type IdP struct {
	// Kind is "simplesamlphp" or "pysaml2".
	Kind string
	// EntityID is the IdP's entity ID (its metadata URL).
	EntityID string
	// BaseURL is http://127.0.0.1:PORT, without a trailing slash.
	BaseURL string
	// MetadataURL serves MetadataXML.
	MetadataURL string
	// MetadataXML is the IdP's metadata as the IdP itself serves it: entity
	// ID, signing certificate, SSO and SLO endpoints. Give it to the SP.
	MetadataXML []byte
	// SSOURL is the SingleSignOnService endpoint of the HTTP-Redirect binding.
	SSOURL string
	// SLOURL is the SingleLogoutService endpoint of the HTTP-Redirect binding.
	SLOURL string
	// Certificate is the IdP's signing certificate (self-signed, RSA 2048,
	// generated for this IdP); CertificatePEM is the same in PEM.
	Certificate    *x509.Certificate
	CertificatePEM []byte
	// Users are the people who can sign in.
	Users []User
	// SPEntityID and ACSURL are the SP's entity ID and its default HTTP-POST
	// AssertionConsumerService, as read from its metadata.
	SPEntityID string
	ACSURL     string

	unsolicited       func(relayState string) string
	unsolicitedLogout func(returnTo string) string
	logFiles          []string
}

// IdPInitiatedURL returns the URL that starts an IdP-initiated
// (unsolicited) sign-in for the SP, carrying relayState (may be empty) to
// the SP. A browser that opens it gets the IdP's login form (or, with a
// live IdP session, straight the auto-submit form to the ACS).
func (idp *IdP) IdPInitiatedURL(relayState string) string { return idp.unsolicited(relayState) }

// Logs returns the IdP's logs so far: the server process's output and,
// for SimpleSAMLphp, its own log (at DEBUG, with every SAML message).
func (idp *IdP) Logs() string { return readLogs(idp.logFiles) }

// Login signs username in through the IdP, SP-initiated: it follows
// authnRequestURL (the IdP's SSO URL with SAMLRequest, or an SP URL that
// redirects there) with client, fills in and submits the IdP's login form
// if the IdP shows one (it does not when client already has an IdP
// session), and returns what the IdP's auto-submit form would post to the
// SP: the ACS URL it targets, the base64 SAMLResponse and the RelayState.
// It does not post them. client should have a cookie jar (one is added to a
// copy if not, which then forgets the IdP session); its redirect policy is
// not used: Login follows redirects itself. Any failure, including a
// refused password, fails the test with the text of the IdP's page (the
// IdP's logs follow when the test ends).
func (idp *IdP) Login(tb testing.TB, client *http.Client, authnRequestURL, username, password string) (acsURL, samlResponse, relayState string) {
	tb.Helper()
	p, err := idp.signIn(client, authnRequestURL, username, password)
	if err != nil {
		tb.Fatalf("idptest: %s sign-in as %q: %v", idp.Kind, username, err)
	}
	return p.ACS, p.SAMLResponse, p.RelayState
}

// IdPInitiated signs username in through the IdP for the SP without an
// AuthnRequest (unsolicited response, no InResponseTo, no RelayState) and
// returns the same as Login.
func (idp *IdP) IdPInitiated(tb testing.TB, client *http.Client, username, password string) (acsURL, samlResponse, relayState string) {
	tb.Helper()
	return idp.Login(tb, client, idp.IdPInitiatedURL(""), username, password)
}

// Post is what an IdP's auto-submit page posts to the SP.
type Post struct {
	ACS          string
	SAMLResponse string
	RelayState   string
}

// SignIn is Login without the test: it returns an error instead of failing,
// for tests that expect the IdP to refuse (a wrong password, an unsigned
// request when RequireSignedRequests is set). ErrLoginRefused marks a login
// form shown again after the password was submitted.
func (idp *IdP) SignIn(client *http.Client, startURL, username, password string) (Post, error) {
	return idp.signIn(client, startURL, username, password)
}

// ErrLoginRefused is returned (wrapped) by SignIn when the IdP shows its
// login form again after the credentials were submitted.
var ErrLoginRefused = errors.New("the IdP refused the username or password")

func (idp *IdP) signIn(client *http.Client, startURL, username, password string) (Post, error) {
	c := ownRedirects(client)

	page, err := browse(c, http.MethodGet, startURL, nil)
	if err != nil {
		return Post{}, err
	}
	submitted := false
	for {
		forms := parseForms(page.body, page.url)
		if f, ok := formWith(forms, "SAMLResponse"); ok {
			return Post{ACS: f.action, SAMLResponse: f.value("SAMLResponse"), RelayState: f.value("RelayState")}, nil
		}
		f, ok := loginForm(forms)
		if !ok {
			return Post{}, fmt.Errorf("unexpected page at %s (HTTP %d): %s", page.url, page.status, excerpt(page.body))
		}
		if submitted {
			return Post{}, fmt.Errorf("%w: the login form came back: %s", ErrLoginRefused, excerpt(page.body))
		}
		submitted = true
		vals := f.fill(username, password)
		page, err = browse(c, http.MethodPost, f.action, vals)
		if err != nil {
			return Post{}, err
		}
	}
}

// IdPInitiatedLogoutURL returns the URL that starts an IdP-initiated single
// logout: the IdP sends the browser to the SP's SingleLogoutService with a
// signed LogoutRequest (HTTP-Redirect binding) and, once the SP answers with
// a LogoutResponse, on to returnTo. Use Follow to get the LogoutRequest.
// SimpleSAMLphp logs out every SP of the session in turn; the pysaml2 IdP
// only the SP it signed in to last.
func (idp *IdP) IdPInitiatedLogoutURL(returnTo string) string { return idp.unsolicitedLogout(returnTo) }

// Follow opens startURL with client and follows redirects until, having
// reached the IdP, one leads away from it, and returns that URL without
// opening it. After an SP's LogoutRequest (HTTP-Redirect binding) it is the
// SP's SingleLogoutService with the IdP's signed LogoutResponse in its
// query; after IdPInitiatedLogoutURL, the same endpoint with a LogoutRequest.
// A page the IdP shows instead fails the test.
func (idp *IdP) Follow(tb testing.TB, client *http.Client, startURL string) string {
	tb.Helper()
	next, err := idp.follow(client, startURL)
	if err != nil {
		tb.Fatalf("idptest: %s: following %s: %v", idp.Kind, startURL, err)
	}
	return next
}

func (idp *IdP) follow(client *http.Client, target string) (string, error) {
	c := ownRedirects(client)
	atIdP := func(u string) bool { return u == idp.BaseURL || strings.HasPrefix(u, idp.BaseURL+"/") }
	reached := false
	for hops := 0; hops < 20; hops++ {
		if atIdP(target) {
			reached = true
		} else if reached {
			return target, nil
		}
		resp, err := c.Get(target)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			return "", fmt.Errorf("%s answered HTTP %d without a redirect: %s", target, resp.StatusCode, excerpt(string(b)))
		}
		target = loc.String()
	}
	return "", fmt.Errorf("too many redirects, last %s", target)
}

// ownRedirects returns a copy of client that leaves redirects to the
// caller, with a cookie jar (a new one if client has none) and a timeout.
func ownRedirects(client *http.Client) *http.Client {
	c := *client
	if c.Jar == nil {
		jar, _ := cookiejar.New(nil)
		c.Jar = jar
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	return &c
}

type page struct {
	url    string
	status int
	body   string
}

// browse does one request and follows redirects like a browser (303 and
// 301/302 after POST become GET), with the jar keeping cookies.
func browse(c *http.Client, method, target string, form map[string][]string) (page, error) {
	var body []byte
	if form != nil {
		body = []byte(encodeForm(form))
	}
	for hops := 0; hops < 20; hops++ {
		req, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return page{}, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		req.Header.Set("Accept", "text/html,application/xhtml+xml")
		resp, err := c.Do(req)
		if err != nil {
			return page{}, err
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
		if err != nil {
			return page{}, err
		}
		switch resp.StatusCode {
		case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
			loc, err := resp.Location()
			if err != nil {
				return page{}, fmt.Errorf("redirect from %s: %v", target, err)
			}
			target = loc.String()
			if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
				method, body = http.MethodGet, nil
			}
			continue
		}
		return page{url: resp.Request.URL.String(), status: resp.StatusCode, body: string(b)}, nil
	}
	return page{}, fmt.Errorf("too many redirects, last %s", target)
}

// need skips (or, under make test, fails) the test when a file the IdP
// needs is missing. Paths may be glob patterns.
func need(tb testing.TB, kind, packages string, paths ...string) {
	tb.Helper()
	var missing []string
	for _, p := range paths {
		if m, _ := filepath.Glob(p); len(m) == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("idptest: %s needs %s: apt-get install %s (make test installs them)", kind, strings.Join(missing, ", "), packages)
	if os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// spMetadata is what the Go side needs from the SP's metadata; the IdPs
// parse it themselves.
type spMetadata struct {
	entityID    string
	acs         []string // HTTP-POST ACS locations, default first
	encryption  bool     // has a certificate usable for encryption
	signingCert bool
	hosts       []string // host[:port] of the SP's endpoints, port only if not standard
}

type mdEndpoint struct {
	Binding   string `xml:"Binding,attr"`
	Location  string `xml:"Location,attr"`
	IsDefault string `xml:"isDefault,attr"`
}

type mdEntity struct {
	EntityID string `xml:"entityID,attr"`
	SPSSO    []struct {
		KeyDescriptor []struct {
			Use  string   `xml:"use,attr"`
			Cert []string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"KeyDescriptor"`
		ACS []mdEndpoint `xml:"AssertionConsumerService"`
		SLO []mdEndpoint `xml:"SingleLogoutService"`
	} `xml:"SPSSODescriptor"`
}

func parseSPMetadata(data []byte) (spMetadata, error) {
	var root struct {
		XMLName xml.Name
		mdEntity
		Entities []mdEntity `xml:"EntityDescriptor"`
	}
	if err := xml.Unmarshal(data, &root); err != nil {
		return spMetadata{}, fmt.Errorf("SP metadata: %v", err)
	}
	var e *mdEntity
	switch root.XMLName.Local {
	case "EntityDescriptor":
		e = &root.mdEntity
	case "EntitiesDescriptor":
		for i := range root.Entities {
			if len(root.Entities[i].SPSSO) > 0 {
				e = &root.Entities[i]
				break
			}
		}
	}
	if e == nil || len(e.SPSSO) == 0 {
		return spMetadata{}, errors.New("SP metadata: no EntityDescriptor with an SPSSODescriptor")
	}
	if e.EntityID == "" {
		return spMetadata{}, errors.New("SP metadata: no entityID")
	}
	md := spMetadata{entityID: e.EntityID}
	for _, sp := range e.SPSSO {
		for _, ep := range append(slices.Clip(sp.ACS), sp.SLO...) {
			u, err := url.Parse(ep.Location)
			if err != nil || u.Host == "" {
				continue
			}
			host := u.Hostname()
			if p := u.Port(); p != "" && !(u.Scheme == "http" && p == "80" || u.Scheme == "https" && p == "443") {
				host = net.JoinHostPort(host, p)
			}
			if !slices.Contains(md.hosts, host) {
				md.hosts = append(md.hosts, host)
			}
		}
		for _, a := range sp.ACS {
			if a.Binding != "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" {
				continue
			}
			if a.IsDefault == "true" || a.IsDefault == "1" {
				md.acs = append([]string{a.Location}, md.acs...)
			} else {
				md.acs = append(md.acs, a.Location)
			}
		}
		for _, k := range sp.KeyDescriptor {
			if len(k.Cert) == 0 {
				continue
			}
			if k.Use == "" || k.Use == "encryption" {
				md.encryption = true
			}
			if k.Use == "" || k.Use == "signing" {
				md.signingCert = true
			}
		}
	}
	if len(md.acs) == 0 {
		return spMetadata{}, errors.New("SP metadata: no AssertionConsumerService with the HTTP-POST binding")
	}
	return md, nil
}

// prepare checks what both IdPs need and fills in defaults.
func prepare(tb testing.TB, kind string, sp SP, opts *Options) spMetadata {
	tb.Helper()
	md, err := parseSPMetadata(sp.MetadataXML)
	if err != nil {
		tb.Fatalf("idptest: %s: %v", kind, err)
	}
	if opts.Users == nil {
		opts.Users = DefaultUsers()
	}
	for _, u := range opts.Users {
		if u.Username == "" || strings.ContainsAny(u.Username, ":\x00") {
			tb.Fatalf("idptest: user name %q: must be non-empty, without colons", u.Username)
		}
	}
	if opts.NameIDFormat == "" {
		opts.NameIDFormat = NameIDPersistent
	}
	switch opts.NameIDFormat {
	case NameIDPersistent, NameIDTransient, NameIDEmail, NameIDUnspecified:
	default:
		tb.Fatalf("idptest: NameIDFormat %q: want persistent, transient, emailAddress or unspecified", opts.NameIDFormat)
	}
	if opts.Encrypt != "" {
		if EncryptionAlgorithm(opts.Encrypt) == "" {
			tb.Fatalf("idptest: Encrypt %q: want %s, %s, %s or %s", opts.Encrypt, AES128CBC, AES256CBC, AES128GCM, AES256GCM)
		}
		if !md.encryption {
			tb.Fatalf("idptest: Encrypt %q: the SP's metadata has no encryption certificate", opts.Encrypt)
		}
	}
	if opts.RequireSignedRequests && !md.signingCert {
		tb.Fatalf("idptest: RequireSignedRequests: the SP's metadata has no signing certificate")
	}
	return md
}

// keyPair generates the IdP's RSA 2048 key and a self-signed certificate.
func keyPair(tb testing.TB, name string) (keyPEM, certPEM []byte, cert *x509.Certificate) {
	tb.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Glossa idptest"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ = x509.ParseCertificate(der)
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), cert
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// copyFiles writes the embedded directory src into dst.
func copyFiles(tb testing.TB, src, dst string) {
	tb.Helper()
	err := fs.WalkDir(files, src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		out := filepath.Join(dst, strings.TrimPrefix(p, src))
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o644)
	})
	if err != nil {
		tb.Fatalf("idptest: %v", err)
	}
}

func writeFile(tb testing.TB, path string, data []byte) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
}

func writeJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, path, b)
}

// process is a running IdP server.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
	err  error         // its exit status, once done
	logs []string
}

// start runs cmd with its output in logFile, registers its end with
// tb.Cleanup and, should the test fail, logs the IdP's logs.
func start(tb testing.TB, kind string, cmd *exec.Cmd, logFile string, logs []string) (*process, error) {
	tb.Helper()
	out, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = out, out
	setParentDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		out.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{}), logs: append([]string{logFile}, logs...)}
	go func() {
		p.err = cmd.Wait()
		out.Close()
		close(p.done)
	}()
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("idptest: %s logs:\n%s", kind, readLogs(p.logs))
		}
	})
	return p, nil
}

func (p *process) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}

// waitReady polls url until it answers 200, the process exits or timeout
// passes.
func (p *process) waitReady(url string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: 2 * time.Second}
	delay := 20 * time.Millisecond
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("exited before answering (%v)", p.err)
		default:
		}
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
		}
		last = err
		time.Sleep(delay)
		if delay < 200*time.Millisecond {
			delay *= 2
		}
	}
	return fmt.Errorf("not answering after %v: %v", timeout, last)
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// startTimeout bounds an IdP's start-up; a cold PHP or Python start on a
// busy 2-core machine takes about a second.
const startTimeout = 20 * time.Second

func readLogs(paths []string) string {
	var b strings.Builder
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		const max = 16 << 10
		if len(data) > max {
			data = append([]byte("[...]"), data[len(data)-max:]...)
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", p, data)
	}
	return b.String()
}

func fetch(url string) ([]byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d: %s", url, resp.StatusCode, excerpt(string(b)))
	}
	return b, nil
}

// freePort returns a loopback port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
