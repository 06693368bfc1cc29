// Package saml is Glossa's SAML 2.0 service provider: one per organization.
// It owns the SP's keys and metadata, the SP-initiated AuthnRequest
// (HTTP-Redirect binding), the assertion consumer service (HTTP-POST binding)
// with Glossa's validation policy, the attribute presets and the group
// mapping, and single logout. It does no I/O of its own: the database-backed
// replay cache comes in through the one-method ReplayCache interface, and
// everything else is a plain value. Cache keeps each organization's built
// ServiceProvider between requests (its keys unsealed and checked, its IdP
// metadata read), used only while everything it was built from is unchanged.
//
// # Library choice: github.com/crewjam/saml v0.5.2, exactly
//
// XML parsing, XML-DSig verification and XML-Enc decryption come from
// github.com/crewjam/saml, pinned to v0.5.2 in go.mod, on
// github.com/russellhaering/goxmldsig v1.6.1 (CVE-2026-33487, the
// loop-variable capture that let a second Reference stand in for the first,
// is fixed in v1.6.0, which the module proxy does not serve; v1.6.1 adds
// traversal limits) and github.com/beevik/etree v1.8.1. No signature or cipher code is written
// here: where this package verifies something itself it calls goxmldsig's
// ValidationContext, crewjam's xmlenc, or crypto/x509.
//
// Why v0.5.2 and not v0.6.x. v0.5.1 (April 2025) was followed by a year and a
// half of silence, then v0.5.2 (2026-11-06), v0.6.0 (2026-11-07) and v0.6.1 to
// v0.6.3 (by 2026-11-08). The module's Go code grew from 13.7k lines (v0.5.1)
// to 14.4k (v0.5.2) and then to 67.5k (v0.6.3): service_provider.go alone
// differs from v0.5.2 by some 3,800 lines, the Mattermost round-trip validator
// was replaced by an in-tree re-implementation (internal/xmlroundtrip), and
// SOAP logout, artifact resolution, SimpleSign, attribute queries and
// SP-side metadata signing were added. Nobody can review that in two days,
// and we could not establish who tagged those releases or how their pull
// requests were reviewed (the mirror we could read stops in mid-2025). We
// read, line by line, the whole v0.5.1 → v0.5.2 diff of non-test code
// instead, and it is small and does only what its release claims:
//
//   - service_provider.go: validateAssertion refuses an assertion without
//     Subject, Conditions or SubjectConfirmationData (the GO-2026-6909
//     nil-pointer panic), requires a bearer SubjectConfirmation, requires at
//     least one AudienceRestriction (v0.5.1 accepted an assertion with none),
//     and a LogoutResponse without Issuer no longer panics.
//   - schema.go: Subject/NameID, Conditions, AudienceRestriction, Audience,
//     AuthnStatement, AttributeStatement, Attribute, AttributeValue and
//     SubjectConfirmation(Data) are bound to the SAML assertion namespace, so
//     <x:NameID xmlns:x="urn:evil"> is no longer read as the NameID (the
//     GO-2026-6909 user-spoofing half).
//   - xmlenc: CBC and GCM refuse ciphertext too short to slice (panics
//     before), GCM encryption actually encrypts the plaintext, AES-192/256-GCM
//     are registered, RSA PKCS#1 v1.5 key transport and "tripledes-cbc" (which
//     was single DES) are no longer registered as decrypters, and the
//     SHA-256/512 OAEP digest URIs are corrected with the old ones kept.
//   - samlsp moves to golang-jwt/jwt/v5 and samlidp's IdP-initiated shortcut
//     drops a read lock (neither package is used here); identity_provider.go
//     and the README get cosmetic changes. Nothing opens a network
//     connection, runs a process, reads the environment or registers
//     anything at init beyond the algorithms above.
//
// We trust v0.5.2 because that diff is small enough to have been read in
// full, every change narrows what is accepted, and its dependency set
// (goxmldsig v1.6.1, etree v1.8.1, mattermost/xml-roundtrip-validator v0.1.0)
// is the one we would choose anyway. Its content is pinned by go.sum through
// the Go checksum database. govulncheck may still list GO-2026-6909 against
// it (the entry listed no fixed version in early November 2026); the diff
// above is the triage evidence. A bump is gated on the attack corpus
// (internal/samlattack; run against this package by corpus_test.go and
// through the server's HTTP ACS by cmd/glossa) passing unchanged, and on
// the differential run of the same corpus through
// github.com/russellhaering/gosaml2 (the fallback library,
// differential_test.go) still showing no forged identity.
//
// # What the policy layer adds
//
// crewjam v0.5.2 has known weaknesses, and none of them is enough on its own
// to sign in, because ParseResponse does not take the library's word for
// anything it can check itself:
//
//   - Before the library sees a byte: a size cap on the base64 and on the
//     decoded XML, a tokenizer pass that refuses any DOCTYPE or other
//     directive, processing instructions, non-UTF-8 encodings, duplicate
//     attributes, a second root or trailing content, and bounds depth,
//     tokens, attributes and namespace declarations. The Mattermost
//     round-trip check runs on the response in the library, on everything
//     else (decrypted assertions, metadata, logout messages) in ours.
//   - A structural pass over the whole document: the root is a
//     samlp:Response; exactly one Assertion or EncryptedAssertion exists
//     anywhere in the document, as a direct child of the Response (this
//     closes the XSW family and CVE-2022-41912 regardless of which assertion
//     the library would pick: v0.5.2 returns the first valid one); ds:
//     elements appear only inside a Signature that is a direct child of the
//     Response or of that Assertion, or inside the EncryptedAssertion; ID
//     attributes are unique.
//   - Every signature must follow SAML core §5.4: one Reference whose URI is
//     "#" plus the ID of the element carrying it (goxmldsig accepts URI="",
//     a URI without "#" and extra References), exclusive c14n without
//     comments, only the enveloped-signature and exc-c14n transforms, RSA or
//     ECDSA with SHA-256/384/512 and a SHA-256/384/512 digest (SHA-1 is
//     refused, goxmldsig accepts it), no ds:Object.
//   - Encryption: RSA-OAEP key transport with AES-GCM or, only when the
//     Response itself carries a signature that the library verifies before it
//     decrypts, AES-CBC (SAML core errata E93); RSA1_5 and 3DES are refused
//     before the library is called, and not merely left unregistered.
//   - The library is called with a SignatureVerifier that records which
//     elements it verified and keeps goxmldsig's output, the re-parsed bytes
//     that the signature covers. Everything Glossa reads (NameID,
//     attributes, times, audiences) is read from those verified bytes, never
//     from the original tree nor from the library's struct (v0.5.2 unmarshals
//     the original element and drops all but one Audience per restriction).
//     The library's returned assertion is compared with ours as a
//     differential check; disagreement is a rejection.
//   - v0.5.2 re-serializes a message with every prefix declared on its root,
//     one namespace per prefix, the last used in document order; a document
//     that binds one prefix to two namespaces in different scopes (valid
//     XML, Namespaces in XML §6.1, and what pysaml2 7 sends with every
//     encrypted assertion: ns0 is the protocol on the Response and XML
//     Encryption inside the EncryptedData) is then read in the wrong
//     namespace and refused ("expected element <Response> in name space
//     ...protocol but have ...xmlenc#"). For such a document only, the
//     library is given a prefix view (libview.go): the same elements,
//     attributes and text, with the prefixes of the inner scopes renamed.
//     The view is trusted for nothing: the recorder verifies, instead of the
//     library's copy from the view, the original element with the same ID,
//     once it has checked that the two differ in nothing but prefixes; our
//     reads stay on the original's verified bytes; ciphertext is copied as
//     is; the round-trip check runs on the original bytes. It costs about
//     +15% on such a response and nothing on others.
//   - v0.5.2 does not check an Assertion's signature when the Response is
//     signed; we do, so a foreign inner signature is refused. With several
//     IdP certificates and no KeyInfo, goxmldsig gives up; we try each
//     certificate in turn, so key rollover works.
//   - The checks of the profile are all made again by us, per connection:
//     issuer, audience (any AudienceRestriction must name us; other audiences
//     such as urn:amazon:webservices are fine), Destination and every
//     Recipient equal to our ACS, status Success, InResponseTo (empty only
//     when unsolicited responses are allowed, a non-empty one must always
//     match), NotBefore/NotOnOrAfter/IssueInstant/SessionNotOnOrAfter with
//     the connection's clock skew, unknown Conditions refused, transient
//     NameIDs refused (they cannot key an identity), and finally one-time use
//     of the assertion ID in the shared ReplayCache.
//   - A panic anywhere inside ParseResponse is recovered and becomes a
//     rejection. Every rejection is a *RejectError whose Code and Reason are
//     for the audit log; the browser is shown one fixed sentence by the web
//     layer.
//
// Known limits of this library set, each refused with a precise reason:
// goxmldsig v1.6.1 stops every traversal at 1,000 elements (its fix for
// GHSA-qhrp-hfff-vphr, not configurable), so a signed element holding more
// (about 950 group values) cannot be verified (MaxSignedElements);
// crewjam v0.5.2 registers only rsa-oaep-mgf1p key transport (not
// xmlenc11#rsa-oaep) and uses the OAEP digest for MGF1 as well, which is
// what IdPs sending the default SHA-1 digest expect; EncryptedID and
// EncryptedAttribute are not supported; the prefix view cannot reach into
// ciphertext, so an encrypted assertion whose own plaintext binds one
// prefix to two namespaces is still refused by the library (pysaml2's
// plaintext does not: it numbers its prefixes once, encas0 to encas2).
// The price of the checks above, on
// a 2-core machine (BenchmarkACS; figures in BENCHMARKS.md): about +20-25%
// over the bare library for a Response- or Assertion-signed response, +40%
// when both are signed (the Assertion signature the library skips is
// verified), +65% for an encrypted assertion in a signed Response
// (decrypted a second time: crewjam v0.5.2 keeps its plaintext to itself
// and accepts no decryption from outside, so sharing one would mean
// dropping the library's own decryption from the differential check).
//
// crewjam's MaxClockSkew (180 s), MaxIssueDelay (90 s) and TimeNow are
// process-wide variables. This package never writes them; the library's own
// time checks therefore keep running against the real clock with those
// defaults, as an outer bound, while ours use the caller's now and the
// connection's ClockSkew (New refuses a ClockSkew larger than the library's
// MaxClockSkew, since the library would cut it down anyway).
package saml
