package samltest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	smithy "github.com/aws/smithy-go"

	"github.com/glossa-dev/glossa/internal/samltest"
	"github.com/glossa-dev/glossa/internal/stsemu"
)

const (
	account  = "123456789012"
	provider = "arn:aws:iam::" + account + ":saml-provider/Acme"
	role     = "arn:aws:iam::" + account + ":role/Tasks"
	acs      = "https://glossa.example/saml/acme/acs"
)

// emulator is an STS emulator trusting idp's metadata for provider, with
// one role whose trust policy wants SAML:aud = acs.
func emulator(t *testing.T, idp *samltest.IdP) *httptest.Server {
	t.Helper()
	emu := &stsemu.Emulator{
		Account:   account,
		Providers: []stsemu.Provider{{ARN: provider, Metadata: idp.Metadata()}},
		Roles: []stsemu.Role{{ARN: role, TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithSAML",
			"Condition":{"StringEquals":{"SAML:aud":"` + acs + `"}}}]}`}},
		Issuer: stsemu.IssuerFunc(func(_ context.Context, r stsemu.IssueRequest) (stsemu.Credentials, error) {
			return stsemu.Credentials{AccessKeyID: "ASIATEST", SecretAccessKey: "s", SessionToken: "t",
				Expiration: time.Now().Add(r.Duration)}, nil
		}),
	}
	if err := emu.Check(); err != nil {
		t.Fatalf("the emulator refuses the IdP's metadata: %v", err)
	}
	srv := httptest.NewServer(emu)
	t.Cleanup(srv.Close)
	return srv
}

func assume(t *testing.T, url, samlResponse string) (*sts.AssumeRoleWithSAMLOutput, error) {
	t.Helper()
	client := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: aws.AnonymousCredentials{}, RetryMaxAttempts: 1})
	return client.AssumeRoleWithSAML(context.Background(), &sts.AssumeRoleWithSAMLInput{
		RoleArn: aws.String(role), PrincipalArn: aws.String(provider), SAMLAssertion: aws.String(samlResponse)})
}

func response(roleValue string) samltest.Response {
	return samltest.Response{
		NameID:    "u-1",
		Recipient: acs,
		Audiences: []string{"https://glossa.example/saml/acme/metadata", samltest.AudienceAWS},
		Attributes: []samltest.Attribute{
			{Name: samltest.AttrRole, Values: []string{roleValue}},
			{Name: samltest.AttrRoleSessionName, Values: []string{"alice@acme.example"}},
		},
	}
}

// TestAcceptedBySTS: a response built by the package passes every check
// of the faithful STS emulator, signed on the assertion or on both, with
// the role pair in either order, and its SessionNotOnOrAfter caps the
// session.
func TestAcceptedBySTS(t *testing.T) {
	idp := samltest.NewIdP(t, "https://idp.acme.example/saml")
	srv := emulator(t, idp)
	for _, tc := range []struct {
		name string
		edit func(*samltest.Response)
	}{
		{"assertion signed", func(*samltest.Response) {}},
		{"response signed too", func(r *samltest.Response) { r.SignResponse = true }},
		{"provider first", func(r *samltest.Response) { r.Attributes[0].Values = []string{samltest.RolePair(provider, role)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := response(samltest.RolePair(role, provider))
			tc.edit(&r)
			out, err := assume(t, srv.URL, idp.Sign(t, r))
			if err != nil {
				t.Fatalf("STS refused the response: %v", err)
			}
			if got := aws.ToString(out.Subject); got != "u-1" {
				t.Errorf("Subject = %q, want u-1", got)
			}
			if got := aws.ToString(out.Audience); got != acs {
				t.Errorf("Audience (the Recipient) = %q, want %q", got, acs)
			}
		})
	}

	r := response(samltest.RolePair(role, provider))
	end := time.Now().Add(20 * time.Minute).Truncate(time.Second)
	r.SessionNotOnOrAfter = end
	out, err := assume(t, srv.URL, idp.Sign(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToTime(out.Credentials.Expiration); !got.Equal(end) {
		t.Errorf("Expiration = %v, want SessionNotOnOrAfter %v", got, end)
	}
}

// TestRefusedBySTS: the signature really covers the assertion (an edited
// attribute breaks it), only the IdP's own key verifies it, and the
// lifetime is what the response says.
func TestRefusedBySTS(t *testing.T) {
	idp := samltest.NewIdP(t, "https://idp.acme.example/saml")
	other := samltest.NewIdP(t, "https://idp.acme.example/saml") // same name, another key
	srv := emulator(t, idp)

	xml := idp.SignXML(t, response(samltest.RolePair(role, provider)))
	tampered := bytes.Replace(xml, []byte("alice@acme.example"), []byte("mallory@acme.example"), 1)
	if bytes.Equal(xml, tampered) {
		t.Fatal("the session name is not in the XML")
	}
	_, err := assume(t, srv.URL, base64.StdEncoding.EncodeToString(tampered))
	wantCode(t, "tampered", err, "InvalidIdentityToken")

	_, err = assume(t, srv.URL, other.Sign(t, response(samltest.RolePair(role, provider))))
	wantCode(t, "foreign key", err, "InvalidIdentityToken")

	old := response(samltest.RolePair(role, provider))
	old.IssueInstant = time.Now().Add(-10 * time.Minute)
	_, err = assume(t, srv.URL, idp.Sign(t, old))
	var expired *types.ExpiredTokenException
	if !errors.As(err, &expired) {
		t.Errorf("response issued 10 minutes ago: err = %v, want ExpiredTokenException", err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}
