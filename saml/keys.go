package saml

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// KeyPair is one of the service provider's private keys with its
// self-signed certificate, as published in the SP metadata.
type KeyPair struct {
	Key         crypto.Signer
	Certificate *x509.Certificate
}

// Keys are the service provider's key pairs. Each list holds the current
// pair first and, during a rotation, the previous ones after it: the SP
// signs with Signing[0], decrypts with any pair of Encryption, and publishes
// every certificate of both lists, so an IdP that has not yet fetched the new
// metadata keeps working until the old pair is retired.
type Keys struct {
	Signing    []KeyPair
	Encryption []KeyPair
}

// KeyBits is the RSA modulus size of the key pairs that GenerateKeyPair makes.
const KeyBits = 3072

// certificateLifetime is how long a generated SP certificate is valid. SAML
// peers use metadata certificates as raw keys, and an expired SP certificate
// breaks some IdPs (ADFS checks it), so it is long; rotation is by key
// replacement, not by expiry.
const certificateLifetime = 10 * 365 * 24 * time.Hour

// GenerateKeyPair makes a new RSA key pair (KeyBits bits) and a self-signed
// certificate for it, valid from an hour before now for ten years, with the
// given common name (for example the SP entity ID). The caller seals the key
// at rest (see KeyPair.MarshalPEM).
//
// Security-sensitive: the key signs AuthnRequests and decrypts assertions.
func GenerateKeyPair(commonName string, now time.Time) (KeyPair, error) {
	key, err := rsa.GenerateKey(rand.Reader, KeyBits)
	if err != nil {
		return KeyPair{}, fmt.Errorf("saml: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return KeyPair{}, fmt.Errorf("saml: generate serial: %w", err)
	}
	if len(commonName) > 64 { // the X.520 upper bound on a CommonName
		commonName = commonName[:64]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              now.Add(certificateLifetime).UTC(),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, fmt.Errorf("saml: self-sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return KeyPair{}, fmt.Errorf("saml: parse certificate: %w", err)
	}
	return KeyPair{Key: key, Certificate: cert}, nil
}

// MarshalPEM returns the private key (PKCS #8, "PRIVATE KEY") and the
// certificate ("CERTIFICATE") in PEM form. The key must be sealed before it
// is stored.
func (kp KeyPair) MarshalPEM() (keyPEM, certPEM []byte, err error) {
	if kp.Key == nil || kp.Certificate == nil {
		return nil, nil, errors.New("saml: key pair is incomplete")
	}
	der, err := x509.MarshalPKCS8PrivateKey(kp.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("saml: marshal key: %w", err)
	}
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.Certificate.Raw})
	return keyPEM, certPEM, nil
}

// ParseKeyPair reads a key pair written by MarshalPEM (PKCS #8 or PKCS #1
// RSA keys are accepted) and checks that the key belongs to the certificate.
func ParseKeyPair(keyPEM, certPEM []byte) (KeyPair, error) {
	cert, err := parseCertificatePEM(certPEM)
	if err != nil {
		return KeyPair{}, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return KeyPair{}, errors.New("saml: key is not PEM")
	}
	var key any
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return KeyPair{}, fmt.Errorf("saml: unsupported key PEM type %q", block.Type)
	}
	if err != nil {
		return KeyPair{}, fmt.Errorf("saml: parse key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return KeyPair{}, fmt.Errorf("saml: key of type %T cannot sign", key)
	}
	kp := KeyPair{Key: signer, Certificate: cert}
	if err := kp.check(); err != nil {
		return KeyPair{}, err
	}
	return kp, nil
}

// check reports whether the key and the certificate belong together.
func (kp KeyPair) check() error {
	if kp.Key == nil || kp.Certificate == nil {
		return errors.New("saml: key pair is incomplete")
	}
	pub, ok := kp.Key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(kp.Certificate.PublicKey) {
		return errors.New("saml: the private key does not match the certificate")
	}
	return nil
}

// parseCertificatePEM reads the first CERTIFICATE block of b.
func parseCertificatePEM(b []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return nil, errors.New("saml: no PEM CERTIFICATE found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("saml: parse certificate: %w", err)
		}
		return cert, nil
	}
}
