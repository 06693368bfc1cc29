// Package idptest starts real SAML 2.0 identity providers on loopback for
// tests, configured for the service provider under test, and signs people
// in through them headlessly. It owns the interoperability rig of the SAML
// tests: SimpleSAMLphp and pysaml2, the IdPs Glossa must work with, run from
// Debian's packages exactly as shipped; only their configuration is ours.
//
//	idp := idptest.StartSimpleSAMLphp(t, idptest.SP{MetadataXML: spMetadata},
//		idptest.Options{SignResponse: true, SignAssertion: true})
//	// give idp.MetadataXML to the SP, have the SP redirect to idp.SSOURL, then:
//	acs, samlResponse, relayState := idp.Login(t, client, authnRequestURL, "alice", "alice-password")
//	// post samlResponse and relayState to acs with the same client
//
// Each Start call runs one IdP process on a free 127.0.0.1 port with a fresh
// RSA 2048 signing key and self-signed certificate, its whole configuration
// in the test's temporary directory, waits (up to 20 s) until it serves its
// metadata, and kills it in tb.Cleanup; if the test failed, the IdP's logs
// are logged. A Start call fails the test with the IdP's logs when the IdP
// does not come up. When the Debian packages are missing it skips the test,
// or fails it when GLOSSA_TEST_REQUIRE_ALL is set (make test sets it and
// installs the packages: simplesamlphp php-cli php-xml python3-pysaml2
// xmlsec1). Start-up takes about 0.1 s for SimpleSAMLphp and 1 s for
// pysaml2; a sign-in about 0.1 s.
//
// Single logout works with both over the HTTP-Redirect binding, signed
// with RSA-SHA256 in the query: Follow takes the browser from an SP's
// LogoutRequest (or IdPInitiatedLogoutURL) to the first URL outside the IdP,
// the SP's SingleLogoutService with the IdP's message, without opening it.
//
// Both IdPs know the same users (DefaultUsers unless Options.Users), release
// the same attributes under the same names (uid, email, givenName, sn,
// groups; NameFormat basic; groups multi-valued) and answer over the
// HTTP-POST binding with an auto-submit form, which Login reads instead of
// posting. Signing is RSA-SHA256 with SHA-256 digests and exclusive
// canonicalization; encryption is AES (Options.Encrypt) with the key wrapped
// by RSA-OAEP (rsa-oaep-mgf1p) for the SP's encryption certificate. Both
// keep an IdP session in a cookie, so a second Login with the same client
// gets a response without the login form (unless ForceAuthn). NameIDs:
// the request's NameIDPolicy Format if supported, else the first format in
// the SP's metadata, else Options.NameIDFormat (default persistent); the
// value is the email for emailAddress, a random ID for transient, the
// username otherwise. An SP that asks for transient NameIDs thus gets a new
// identity at every sign-in.
//
// # SimpleSAMLphp
//
// Debian bookworm ships SimpleSAMLphp 1.19 in /usr/share/simplesamlphp (www/
// is the document root; config is a symlink to /etc/simplesamlphp, whose
// config.php requires /var/lib/simplesamlphp/secrets.inc.php, readable only
// by root and www-data).
// The rig leaves all of that alone: SimpleSAMLphp reads its configuration
// directory from the environment variable SIMPLESAMLPHP_CONFIG_DIR, which
// points at a copy of testdata/simplesamlphp (config.php, authsources.php,
// metadata/saml20-idp-hosted.php, metadata/saml20-sp-remote.php) next to an
// idptest.json with this instance's values, the SP's metadata file, and
// cert/, log/, data/, tmp/ and sessions/ directories. The server is
// "php -S 127.0.0.1:PORT -t /usr/share/simplesamlphp/www"; PHP binds the
// port itself, so Start retries on another port if it was taken meanwhile.
//
// Facts and quirks found on the way:
//   - Debian's php-cli lacks DOM; SimpleSAMLphp needs php-xml. The package
//     depends on "apache2 | httpd" and pulls apache2 in, which the rig
//     does not use.
//   - The IdP's URLs: entity ID and metadata /saml2/idp/metadata.php, SSO
//     /saml2/idp/SSOService.php (HTTP-Redirect and HTTP-POST), SLO
//     /saml2/idp/SingleLogoutService.php, login form
//     /module.php/core/loginuserpass.php. IdP-initiated sign-in is
//     SSOService.php?spentityid=SP[&RelayState=...] (IdPInitiatedURL).
//     IdP-initiated logout is SingleLogoutService.php?ReturnTo=URL
//     (IdPInitiatedLogoutURL); SimpleSAMLphp redirects only to hosts in
//     trusted.url.domains, which the rig fills with the hosts of the SP's
//     ACS and SLO endpoints.
//   - The SP's metadata is parsed by SimpleSAMLphp's own SAMLParser inside
//     saml20-sp-remote.php, as an operator importing it would, and the
//     test's options are merged over it: saml20.sign.response,
//     saml20.sign.assertion, assertion.encryption, signature.algorithm
//     (RSA-SHA256), validate.authnrequest and validate.logout
//     (RequireSignedRequests), sign.logout.
//   - SimpleSAMLphp answers at the AssertionConsumerServiceURL of the
//     request only if the SP's metadata lists it; otherwise, silently, at
//     the metadata's default ACS.
//   - It can encrypt for an SP certificate only with AES-128-CBC: 1.19's
//     SAML2 library fixes the session key (EncryptedAssertion::setAssertion
//     uses AES128_CBC for RSA keys), and sharedkey_algorithm applies only to
//     a pre-shared symmetric key, with no key transport at all. Start fails
//     the test for any other Options.Encrypt. The key transport is
//     rsa-oaep-mgf1p.
//   - Without saml:AttributeNameID filters SimpleSAMLphp issues persistent
//     and emailAddress NameIDs only through simplesaml.nameidattribute or a
//     salted hash; the hosted IdP has one filter per format (uid for
//     persistent and unspecified, email for emailAddress).
//   - The default configuration marks cookies Secure and SameSite=None,
//     which neither a cookie jar nor a browser sends back over plain HTTP;
//     the rig turns Secure off and gives the cookies names unique to the
//     port, because cookies ignore ports and two IdPs on 127.0.0.1 would
//     otherwise share them.
//   - Its own log (logging.handler file, level DEBUG with every SAML
//     message) is log/simplesamlphp.log; PHP's server log is
//     log/php-server.log. IdP.Logs returns both.
//
// # pysaml2
//
// Debian's python3-pysaml2 (7.0.1 in bookworm) is a library, not a server.
// testdata/pysaml2/idp.py is a small IdP on saml2.server.Server, served by
// wsgiref, and run as "/usr/bin/python3 -I idp.py idptest.json": the
// python3 first on PATH may be another build without Debian's modules. Go
// binds the port and passes the listening socket as file descriptor 3, so
// no other process can take it. pysaml2 signs and encrypts by running
// /usr/bin/xmlsec1 (package xmlsec1).
//
// Facts and quirks found on the way:
//   - The IdP's URLs: entity ID and metadata /metadata, SSO /sso/redirect
//     (HTTP-Redirect only), IdP-initiated /sso/unsolicited?sp=SP, SLO
//     /slo/redirect (HTTP-Redirect: LogoutRequest in, signed LogoutResponse
//     out; or the LogoutResponse to an IdP-initiated logout), IdP-initiated
//     logout /slo/unsolicited?ReturnTo=URL (IdPInitiatedLogoutURL; only the
//     SP the session signed in to last).
//   - pysaml2 7.0.1 always encrypts with 3DES (pre_encryption_part's
//     TRIPLE_DES_CBC, xmlsec1 --session-key des-192) and has no setting for
//     it; idp.py overrides Server._encrypt_assertion with a copy that passes
//     the chosen AES-GCM or AES-CBC algorithm and key size. Everything else
//     is pysaml2's own behaviour.
//   - Its encrypted responses bind one prefix to two namespaces: ElementTree
//     numbers prefixes per serialization, so the Response declares ns0
//     (protocol) and ns1 (assertion), and the EncryptedData, written on its
//     own as xmlsec1's template, declares ns0 (XML Encryption) and ns1
//     (XML-DSig) again; the decrypted Assertion uses encas0 to encas2. This
//     is valid XML (Namespaces in XML §6.1; XML Encryption leaves prefixes
//     to the writer) and not the override's doing: the template is
//     pysaml2's pre_encryption_part passed through str(), whatever the
//     algorithm. Glossa accepts it; crewjam/saml v0.5.2 on its own reads
//     such a Response in the wrong namespace (see the saml package).
//   - want_authn_requests_signed demands an enveloped signature, which the
//     HTTP-Redirect binding never has; with RequireSignedRequests idp.py
//     checks SigAlg and Signature with pysaml2's verify_redirect_signature,
//     which re-encodes the parameters (Python's urlencode) rather than using
//     the query as received: an SP that percent-encodes differently from
//     quote_plus would fail here, though not in SimpleSAMLphp.
//   - pysaml2 refuses an AuthnRequest whose AssertionConsumerServiceURL is
//     not in the SP's metadata, and whose Destination is not its SSO URL.
//   - Its attribute release policy honours the SP's metadata: when it lists
//     RequestedAttributes, only those are released. pysaml2's bundled
//     attribute maps would rename givenName and sn to
//     urn:mace:dir:attribute-def URIs; idp.py installs an identity map so
//     both IdPs send the same names.
//   - Its log (INFO, with each request) is pysaml2.log in the temporary
//     directory.
//
// The package is for tests only; it is not imported by Glossa's binary.
package idptest
