// Package samlattack is the in-test SAML identity provider and the attack
// corpus built on it: keys and certificates for an IdP, a second and third
// IdP key (rollover), an attacker and another tenant's IdP; IdP metadata;
// a builder of signed (and optionally encrypted) SAML responses with hooks
// at every stage; the attack corpus (Corpus), every case of which a
// service provider must refuse with a given saml.RejectCode; and the
// responses a real IdP sends that it must accept (ValidCases).
//
// It exists so that the same corpus runs at two levels: against the saml
// package's ServiceProvider (saml/corpus_test.go, and the fuzz and
// differential tests seeded from it), and through the real HTTP assertion
// consumer service of the whole server (cmd/glossa), where a rejection must
// also create no session, show the same page and reach the audit log. A
// Fixture therefore builds responses for any SP (its base URL, organization
// and encryption certificate), answering any AuthnRequest ID.
//
// It is test support only: it imports testing, and only _test.go files
// import it; Glossa's binary never does.
package samlattack
