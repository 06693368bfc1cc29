package stsemu_test

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	smithy "github.com/aws/smithy-go"
	"github.com/beevik/etree"

	"github.com/glossa-dev/glossa/internal/stsemu"
)

const (
	account      = "123456789012"
	providerName = "AcmeIdP"
	providerARN  = "arn:aws:iam::" + account + ":saml-provider/" + providerName
	otherProvARN = "arn:aws:iam::" + account + ":saml-provider/OtherIdP"
	roleARN      = "arn:aws:iam::" + account + ":role/GlossaTasks"     // MaxSessionDuration 1 h
	longRoleARN  = "arn:aws:iam::" + account + ":role/GlossaLongTasks" // MaxSessionDuration 12 h
	otherRoleARN = "arn:aws:iam::" + account + ":role/SomeoneElses"

	idpEntityID  = "https://idp.acme.example/saml"
	glossaEntity = "https://glossa.example/saml/acme/metadata"
	glossaACS    = "https://glossa.example/saml/acme/acs"
	awsSignIn    = "https://signin.aws.amazon.com/saml"
	awsURN       = "urn:amazon:webservices"
	victim       = "alice@acme.example"
)

// now is the emulator's clock in every table case.
var now = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// defaultOpts is a valid response shared between Glossa's ACS and STS
// (reference §9): Recipient = Glossa's ACS, audiences [Glossa, AWS], the
// assertion signed by the IdP's current key.
func defaultOpts() samlOpts { return optsAt(now) }

// optsAt is defaultOpts for an IdP whose clock reads now.
func optsAt(now time.Time) samlOpts {
	return samlOpts{
		issuer:          idpEntityID,
		responseIssuer:  idpEntityID,
		nameID:          "u-4711",
		nameIDFormat:    formatPersistent,
		recipient:       glossaACS,
		method:          "urn:oasis:names:tc:SAML:2.0:cm:bearer",
		issueInstant:    now.Add(-30 * time.Second),
		scdNotOnOrAfter: now.Add(4 * time.Minute),
		notBefore:       now.Add(-time.Minute),
		notOnOrAfter:    now.Add(4 * time.Minute),
		audiences:       [][]string{{glossaEntity, awsURN}},
		status:          "urn:oasis:names:tc:SAML:2.0:status:Success",
		attrs: []attr{
			{attrRole, []string{roleARN + "," + providerARN, longRoleARN + "," + providerARN}},
			{attrRoleSession, []string{victim}},
			{"https://glossa.example/attributes/groups", []string{"annotators"}},
		},
		signAssertion: true,
		signer:        idpKey,
	}
}

// trustPolicy is a role trust policy for providerARN. conditions is the
// JSON of the Allow statement's Condition ("" for none); extra statements
// are appended as given.
func trustPolicy(actions, conditions string, extra ...string) string {
	st := fmt.Sprintf(`{"Effect":"Allow","Principal":{"Federated":%q},"Action":%s`, providerARN, actions)
	if conditions != "" {
		st += `,"Condition":` + conditions
	}
	st += "}"
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(append([]string{st}, extra...), ",") + `]}`
}

const allActions = `["sts:AssumeRoleWithSAML","sts:TagSession","sts:SetSourceIdentity"]`

// defaultTrust is what Glossa documents (reference §9): saml:aud is
// Glossa's ACS, because saml:aud is the Recipient.
var defaultTrust = trustPolicy(allActions, `{"StringEquals":{"SAML:aud":"`+glossaACS+`"}}`)

// recorder is the fake Issuer: it records each IssueRequest and hands out
// credentials whose own Expiration is far off, so that the tests see the
// emulator's Expiration and not the issuer's.
type recorder struct {
	mu       sync.Mutex
	requests []stsemu.IssueRequest
	err      error
	expires  time.Time // the credentials' own Expiration; zero: now + 100 h
}

func (r *recorder) Issue(_ context.Context, req stsemu.IssueRequest) (stsemu.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return stsemu.Credentials{}, r.err
	}
	r.requests = append(r.requests, req)
	exp := r.expires
	if exp.IsZero() {
		exp = now.Add(100 * time.Hour)
	}
	return stsemu.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIAFAKE%012d", len(r.requests)),
		SecretAccessKey: "secret-" + req.SessionName,
		SessionToken:    "token-" + req.SessionName,
		Expiration:      exp,
	}, nil
}

func (r *recorder) last(t *testing.T) stsemu.IssueRequest {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.requests) == 0 {
		t.Fatal("the issuer was not called")
	}
	return r.requests[len(r.requests)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

// newEmulator is the table's emulator: one provider, three roles, the fixed
// clock.
func newEmulator(t testing.TB, issuer stsemu.Issuer) *stsemu.Emulator {
	keys(t)
	return &stsemu.Emulator{
		Account:   account,
		Providers: []stsemu.Provider{{ARN: providerARN, Metadata: metadata(idpEntityID, idpKey.cert)}},
		Roles: []stsemu.Role{
			{ARN: roleARN, TrustPolicy: defaultTrust},
			{ARN: longRoleARN, TrustPolicy: defaultTrust, MaxSessionDuration: 12 * time.Hour},
		},
		Now:    func() time.Time { return now },
		Issuer: issuer,
	}
}

// stsClient is the real aws-sdk-go-v2 STS client pointed at url, unsigned.
func stsClient(url string) *sts.Client {
	return sts.New(sts.Options{
		Region:           "us-east-1",
		BaseEndpoint:     aws.String(url),
		Credentials:      aws.AnonymousCredentials{},
		RetryMaxAttempts: 1,
	})
}

// assumeInput is the request Glossa makes: the role pair and the response
// as posted to its ACS.
func assumeInput(samlResponse string) *sts.AssumeRoleWithSAMLInput {
	return &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String(roleARN),
		PrincipalArn:  aws.String(providerARN),
		SAMLAssertion: aws.String(samlResponse),
	}
}

// result of one table case, for its check function.
type result struct {
	out    *sts.AssumeRoleWithSAMLOutput
	issued stsemu.IssueRequest
}

type tableCase struct {
	name string
	emu  func(*stsemu.Emulator)
	saml func(*samlOpts)
	req  func(*sts.AssumeRoleWithSAMLInput)

	// Refusals: code, HTTP status and message (wantPrefix: the message
	// starts with wantMsg).
	wantCode   string
	wantStatus int
	wantMsg    string
	wantPrefix bool

	// Successes: extra checks; every success is also checked for the
	// common fields by checkSuccess.
	check func(t *testing.T, r result)
}

// setTrust replaces the trust policy of the role arn.
func setTrust(arn, policy string) func(*stsemu.Emulator) {
	return func(e *stsemu.Emulator) {
		for i := range e.Roles {
			if e.Roles[i].ARN == arn {
				e.Roles[i].TrustPolicy = policy
			}
		}
	}
}

func wantExpiration(d time.Duration) func(*testing.T, result) {
	return func(t *testing.T, r result) {
		t.Helper()
		if got, want := aws.ToTime(r.out.Credentials.Expiration), now.Add(d); !got.Equal(want) {
			t.Errorf("Expiration = %v, want now+%v = %v", got, d, want)
		}
		if r.issued.Duration != d {
			t.Errorf("IssueRequest.Duration = %v, want %v", r.issued.Duration, d)
		}
	}
}

func TestAssumeRoleWithSAML(t *testing.T) {
	keys(t)
	cases := []tableCase{
		// Successes.
		{
			name:  "shared response, saml:aud = Glossa ACS",
			check: wantExpiration(time.Hour),
		},
		{
			name: "provider-first pair",
			saml: func(o *samlOpts) { o.set(attrRole, providerARN+","+roleARN) },
		},
		{
			name: "space after the comma",
			saml: func(o *samlOpts) { o.set(attrRole, roleARN+", "+providerARN) },
		},
		{
			name: "spaces and provider first, among other pairs",
			saml: func(o *samlOpts) {
				o.set(attrRole, "arn:aws-us-gov:iam::"+account+":role/Gov,arn:aws-us-gov:iam::"+account+":saml-provider/Gov",
					"  "+providerARN+" ,  "+roleARN+"  ")
			},
		},
		{
			name: "key rollover: metadata with two certificates, signed with the new key",
			emu: func(e *stsemu.Emulator) {
				e.Providers[0].Metadata = metadata(idpEntityID, idpKey.cert, idpKey2.cert)
			},
			saml: func(o *samlOpts) { o.signer = idpKey2 },
		},
		{
			name: "only the Response is signed",
			saml: func(o *samlOpts) { o.signAssertion, o.signResponse = false, true },
		},
		{
			name: "Response and assertion signed",
			saml: func(o *samlOpts) { o.signResponse = true },
		},
		{
			name: "AWS sign-in URL as the only audience",
			saml: func(o *samlOpts) { o.audiences = [][]string{{awsSignIn}} },
		},
		{
			name: "Glossa-only audience accepted when configured",
			emu:  func(e *stsemu.Emulator) { e.Audiences = []string{glossaEntity} },
			saml: func(o *samlOpts) { o.audiences = [][]string{{glossaEntity}} },
		},
		{
			name: "expiry = now + DurationSeconds",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.RoleArn = aws.String(longRoleARN)
				in.DurationSeconds = aws.Int32(7200)
			},
			check: wantExpiration(2 * time.Hour),
		},
		{
			name: "expiry = SessionNotOnOrAfter when sooner",
			saml: func(o *samlOpts) { o.sessionNotOnOrAfter = now.Add(40 * time.Minute) },
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.RoleArn = aws.String(longRoleARN)
				in.DurationSeconds = aws.Int32(7200)
			},
			check: wantExpiration(40 * time.Minute),
		},
		{
			name: "expiry = now + SessionDuration attribute when sooner",
			saml: func(o *samlOpts) {
				o.sessionNotOnOrAfter = now.Add(40 * time.Minute)
				o.set(attrSessionLength, "1800")
			},
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.RoleArn = aws.String(longRoleARN)
				in.DurationSeconds = aws.Int32(7200)
			},
			check: wantExpiration(30 * time.Minute),
		},
		{
			name:  "SessionDuration never lengthens the session",
			saml:  func(o *samlOpts) { o.set(attrSessionLength, "43200") },
			check: wantExpiration(time.Hour),
		},
		{
			name: "session policy passed through",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.Policy = aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tasks/acme/*"}]}`)
			},
			check: func(t *testing.T, r result) {
				if !strings.Contains(r.issued.Policy, "tasks/acme/*") {
					t.Errorf("IssueRequest.Policy = %q", r.issued.Policy)
				}
				if r.out.PackedPolicySize == nil || *r.out.PackedPolicySize <= 0 || *r.out.PackedPolicySize > 100 {
					t.Errorf("PackedPolicySize = %v", r.out.PackedPolicySize)
				}
			},
		},
		{
			name: "source identity, allowed",
			saml: func(o *samlOpts) { o.set(attrSourceIdentity, "alice") },
			check: func(t *testing.T, r result) {
				if aws.ToString(r.out.SourceIdentity) != "alice" || r.issued.SourceIdentity != "alice" {
					t.Errorf("SourceIdentity = %q, issued %q", aws.ToString(r.out.SourceIdentity), r.issued.SourceIdentity)
				}
			},
		},
		{
			name: "session tags, allowed",
			saml: func(o *samlOpts) {
				o.set(attrTag+"Project", "acme")
				o.set(attrTag+"CostCenter", "12345")
				o.set(attrTransitive, "Project")
			},
			check: func(t *testing.T, r result) {
				if r.issued.Tags["Project"] != "acme" || r.issued.Tags["CostCenter"] != "12345" || len(r.issued.Tags) != 2 {
					t.Errorf("Tags = %v", r.issued.Tags)
				}
				if len(r.issued.TransitiveTags) != 1 || r.issued.TransitiveTags[0] != "Project" {
					t.Errorf("TransitiveTags = %v", r.issued.TransitiveTags)
				}
				if r.out.PackedPolicySize == nil {
					t.Error("no PackedPolicySize with session tags")
				}
			},
		},
		{
			name: "transient NameID, SubjectType stripped",
			saml: func(o *samlOpts) { o.nameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" },
			check: func(t *testing.T, r result) {
				if aws.ToString(r.out.SubjectType) != "transient" {
					t.Errorf("SubjectType = %q", aws.ToString(r.out.SubjectType))
				}
			},
		},
		{
			name: "email NameID, SubjectType kept whole",
			saml: func(o *samlOpts) { o.nameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" },
			check: func(t *testing.T, r result) {
				if got := aws.ToString(r.out.SubjectType); got != "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress" {
					t.Errorf("SubjectType = %q", got)
				}
			},
		},
		{
			// The test certificates expired in 2021 (idp_test.go).
			name: "certificate dates are not enforced",
		},
		{
			name: "trust: SAML:iss and saml:doc, no SAML:aud",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"StringEquals":{"SAML:iss":"`+idpEntityID+`","saml:doc":"`+account+`/`+providerName+`"}}`)),
		},
		{
			name: "trust: saml:namequalifier, sub and sub_type",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"StringEquals":{"saml:namequalifier":"`+nameQualifier()+`","saml:sub":"u-4711","saml:sub_type":"persistent"}}`)),
		},
		{
			name: "trust: StringLike and StringNotEquals, action wildcard",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWith*"`,
				`{"StringLike":{"saml:aud":"https://glossa.example/saml/*/acs"},"StringNotEquals":{"saml:sub_type":"transient"}}`)),
		},
		{
			name: "trust: ForAllValues:StringLike over eduPersonAffiliation",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"ForAllValues:StringLike":{"saml:edupersonaffiliation":["staff","faculty"]}}`)),
			saml: func(o *samlOpts) { o.set(attrAffiliation, "staff", "faculty") },
		},
		{
			name: "trust: ForAnyValue:StringEquals",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"ForAnyValue:StringEquals":{"saml:edupersonaffiliation":"staff"}}`)),
			saml: func(o *samlOpts) { o.set(attrAffiliation, "student", "staff") },
		},
		{
			name: "trust: statements combine, Deny on another subject",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`, "",
				`{"Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"StringEquals":{"saml:sub":"mallory"}}}`)),
		},

		// 1. Request validation.
		{
			name:       "RoleArn shorter than 20",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.RoleArn = aws.String("arn:aws:iam::1:r/x") },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "1 validation error detected: Value 'arn:aws:iam::1:r/x' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20",
		},
		{
			name:       "DurationSeconds below 900",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.DurationSeconds = aws.Int32(899) },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "1 validation error detected: Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
		},
		{
			name: "DurationSeconds above 43200 and SAMLAssertion too short",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.DurationSeconds = aws.Int32(43201)
				in.SAMLAssertion = aws.String("abc")
			},
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg: "2 validation errors detected: Value at 'sAMLAssertion' failed to satisfy constraint: Member must have length greater than or equal to 4; " +
				"Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
		},
		{
			name: "Policy longer than 2048",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.Policy = aws.String(`{"a":"` + strings.Repeat("x", 2050) + `"}`)
			},
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "1 validation error detected: Value '{\"a\":\"xxx",
			wantPrefix: true,
		},
		{
			name:       "Policy outside its character set",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.Policy = aws.String(`{"Version":"2012-10-17","Sid":"Ā"}`) },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    `1 validation error detected: Value '{"Version":"2012-10-17","Sid":"Ā"}' at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+`,
		},
		{
			name: "more than 10 PolicyArns",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				for i := range 11 {
					in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(fmt.Sprintf("arn:aws:iam::%s:policy/p%d", account, i))})
				}
			},
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "1 validation error detected: Value '[arn:aws:iam::123456789012:policy/p0, ",
			wantPrefix: true,
		},
		{
			name:       "Policy not JSON",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.Policy = aws.String(`{"Version":`) },
			wantCode:   "MalformedPolicyDocument",
			wantStatus: 400,
			wantMsg:    "The policy is not in the valid JSON format.",
		},
		{
			name:       "RoleArn and PrincipalArn swapped",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.RoleArn, in.PrincipalArn = in.PrincipalArn, in.RoleArn },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "Request ARN is invalid",
		},
		{
			name:       "SAMLAssertion not base64",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.SAMLAssertion = aws.String("!!!! not base64 !!!!") },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "SAMLAssertion is not valid base64",
			wantPrefix: true,
		},

		// 2. Provider and Issuer.
		{
			name:       "unknown provider",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.PrincipalArn = aws.String(otherProvARN) },
			saml:       func(o *samlOpts) { o.set(attrRole, roleARN+","+otherProvARN) },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Specified provider doesn't exist",
		},
		{
			name: "unknown provider wins over a garbage assertion",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.PrincipalArn, in.SAMLAssertion = aws.String(otherProvARN), aws.String("base64SAML")
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Specified provider doesn't exist",
		},
		{
			name: "issuer mismatch (assertion and Response)",
			saml: func(o *samlOpts) {
				o.issuer, o.responseIssuer = "https://idp.evil.example/saml", "https://idp.evil.example/saml"
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Issuer not present in specified provider (Service: AWSOpenIdDiscoveryService; Status Code: 400; Error Code: AuthSamlInvalidSamlResponseException; Request ID: ",
			wantPrefix: true,
		},
		{
			name:       "issuer mismatch (Response only)",
			saml:       func(o *samlOpts) { o.responseIssuer = "https://idp.evil.example/saml" },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Issuer not present in specified provider",
			wantPrefix: true,
		},

		// 3. XML and signature.
		{
			name: "not XML",
			req: func(in *sts.AssumeRoleWithSAMLInput) {
				in.SAMLAssertion = aws.String(base64.StdEncoding.EncodeToString([]byte("hello")))
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: ",
			wantPrefix: true,
		},
		{
			name: "DOCTYPE",
			saml: func(o *samlOpts) {
				o.rawXML = func(b []byte) []byte {
					return append([]byte(`<!DOCTYPE samlp:Response [<!ENTITY who "mallory">]>`+"\n"), b...)
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: DTDs and entity declarations are not allowed",
		},
		{
			name:       "IdP status not Success",
			saml:       func(o *samlOpts) { o.status = "urn:oasis:names:tc:SAML:2.0:status:Responder" },
			wantCode:   "IDPRejectedClaim",
			wantStatus: 403,
			wantMsg:    "The identity provider reported that authentication failed",
		},
		{
			name: "two assertions, both signed",
			saml: func(o *samlOpts) {
				second := *o
				second.nameID = "mallory"
				extra := buildAssertion(t, &second)
				o.afterSign = func(r *etree.Element) { r.AddChild(extra) }
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: want exactly one Assertion, a child of the Response; found 2",
		},
		{
			name: "encrypted assertion",
			saml: func(o *samlOpts) {
				o.afterSign = func(r *etree.Element) {
					a := r.SelectElement("Assertion")
					r.RemoveChild(a)
					ea := r.CreateElement("saml:EncryptedAssertion")
					ed := ea.CreateElement("xenc:EncryptedData")
					ed.CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
					ed.CreateElement("xenc:CipherData").CreateElement("xenc:CipherValue").SetText("AAAA")
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: encrypted assertions are not supported",
			wantPrefix: true,
		},
		{
			name:       "unsigned",
			saml:       func(o *samlOpts) { o.signAssertion = false },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name: "tampered attribute",
			saml: func(o *samlOpts) {
				o.afterSign = func(r *etree.Element) { findAttrValue(r, attrRoleSession).SetText("mallory@acme.example") }
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name: "tampered assertion under a Response signature",
			saml: func(o *samlOpts) {
				o.signAssertion, o.signResponse = false, true
				o.afterSign = func(r *etree.Element) { findAttrValue(r, attrRole).SetText(otherRoleARN + "," + providerARN) }
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name:       "wrong signing key (IdP rotated, provider metadata stale)",
			saml:       func(o *samlOpts) { o.signer = idpKey2 },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name:       "attacker's key named in KeyInfo",
			saml:       func(o *samlOpts) { o.signer = attackerKey },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name:       "RSA-SHA1 signature refused",
			saml:       func(o *samlOpts) { o.sha1 = true },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name: "signature wrapping: signed assertion moved to Extensions, evil one read",
			saml: func(o *samlOpts) {
				o.afterSign = func(r *etree.Element) {
					signed := r.SelectElement("Assertion")
					evil := signed.Copy()
					evil.RemoveChild(evil.SelectElement("Signature"))
					findAttrValue(evil, attrRole).SetText(otherRoleARN + "," + providerARN)
					r.RemoveChild(signed)
					ext := etree.NewElement("samlp:Extensions")
					ext.AddChild(signed)
					r.InsertChildAt(r.SelectElement("Issuer").Index()+1, ext)
					r.AddChild(evil)
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: want exactly one Assertion",
			wantPrefix: true,
		},
		{
			name: "signature wrapping: evil assertion wraps the signed one",
			saml: func(o *samlOpts) {
				o.afterSign = func(r *etree.Element) {
					signed := r.SelectElement("Assertion")
					evil := signed.Copy()
					sig := evil.SelectElement("Signature")
					evil.RemoveChild(sig)
					findAttrValue(evil, attrRoleSession).SetText("mallory")
					r.RemoveChild(signed)
					evil.AddChild(signed) // signed original hidden inside
					r.AddChild(evil)
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Invalid SAML response: want exactly one Assertion",
			wantPrefix: true,
		},
		{
			name: "signature wrapping: Response signature referencing the assertion",
			saml: func(o *samlOpts) {
				o.afterSign = func(r *etree.Element) {
					// Move the assertion's valid signature up to the
					// Response, which is then modified freely.
					a := r.SelectElement("Assertion")
					sig := a.SelectElement("Signature")
					a.RemoveChild(sig)
					r.InsertChildAt(r.SelectElement("Issuer").Index()+1, sig)
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},
		{
			name: "duplicate ID: a decoy element shares the signed assertion's ID",
			saml: func(o *samlOpts) {
				o.assertionID = "_dup"
				o.afterSign = func(r *etree.Element) {
					ext := etree.NewElement("samlp:Extensions")
					ext.CreateElement("decoy").CreateAttr("ID", "_dup")
					r.InsertChildAt(r.SelectElement("Issuer").Index()+1, ext)
				}
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response signature invalid",
		},

		// 4. Time.
		{
			name:       "SubjectConfirmationData NotOnOrAfter passed",
			saml:       func(o *samlOpts) { o.scdNotOnOrAfter = now },
			wantCode:   "ExpiredTokenException",
			wantStatus: 400,
			wantMsg:    "Response has expired",
		},
		{
			name:       "Conditions NotOnOrAfter passed",
			saml:       func(o *samlOpts) { o.notOnOrAfter = now.Add(-time.Second) },
			wantCode:   "ExpiredTokenException",
			wantStatus: 400,
			wantMsg:    "Response has expired",
		},
		{
			name: "IssueInstant older than 5 minutes, NotOnOrAfter still ahead",
			saml: func(o *samlOpts) {
				o.issueInstant = now.Add(-5*time.Minute - time.Second)
				o.scdNotOnOrAfter, o.notOnOrAfter = now.Add(time.Hour), now.Add(time.Hour)
			},
			wantCode:   "ExpiredTokenException",
			wantStatus: 400,
			wantMsg:    "Token must be redeemed within 5 minutes of issuance",
		},
		{
			name:       "Conditions NotBefore in the future",
			saml:       func(o *samlOpts) { o.notBefore = now.Add(time.Minute) },
			wantCode:   "ExpiredTokenException",
			wantStatus: 400,
			wantMsg:    "Response is not yet valid",
		},

		// 5. Subject.
		{
			name:       "no NameID",
			saml:       func(o *samlOpts) { o.noNameID = true },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "two SubjectConfirmations",
			saml:       func(o *samlOpts) { o.extraConfirmation = true },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "no Recipient",
			saml:       func(o *samlOpts) { o.recipient = "" },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "no SubjectConfirmationData NotOnOrAfter",
			saml:       func(o *samlOpts) { o.scdNotOnOrAfter = time.Time{} },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "holder-of-key confirmation",
			saml:       func(o *samlOpts) { o.method = "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key" },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},

		// 6. Audience.
		{
			name:       "audience only Glossa's entity ID",
			saml:       func(o *samlOpts) { o.audiences = [][]string{{glossaEntity}} },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response does not contain the required audience",
		},
		{
			name:       "no AudienceRestriction",
			saml:       func(o *samlOpts) { o.audiences = nil },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "Response does not contain the required audience",
		},

		// 7. Role pair.
		{
			name:       "role pair missing",
			saml:       func(o *samlOpts) { o.set(attrRole, otherRoleARN+","+providerARN) },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "no Role attribute",
			saml:       func(o *samlOpts) { o.set(attrRole) },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "Role attribute name in the wrong case",
			saml: func(o *samlOpts) {
				o.set(attrRole)
				o.set("https://aws.amazon.com/SAML/Attributes/role", roleARN+","+providerARN)
			},
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "pair present but the role does not exist",
			saml: func(o *samlOpts) { o.set(attrRole, otherRoleARN+","+providerARN) },
			req:  func(in *sts.AssumeRoleWithSAMLInput) { in.RoleArn = aws.String(otherRoleARN) },

			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},

		// 8. RoleSessionName, SourceIdentity.
		{
			name:       "missing RoleSessionName",
			saml:       func(o *samlOpts) { o.set(attrRoleSession) },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "RoleSessionName is required in AuthnResponse",
		},
		{
			name:       "RoleSessionName with a space",
			saml:       func(o *samlOpts) { o.set(attrRoleSession, "Alice Liddell") },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
		},
		{
			name:       "RoleSessionName of 65 characters",
			saml:       func(o *samlOpts) { o.set(attrRoleSession, strings.Repeat("a", 65)) },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    "RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}",
		},
		{
			name:       "SourceIdentity starting with aws:",
			saml:       func(o *samlOpts) { o.set(attrSourceIdentity, "aws:alice") },
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    `Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with "aws:"`,
		},
		{
			name:       "SourceIdentity without sts:SetSourceIdentity",
			emu:        setTrust(roleARN, trustPolicy(`["sts:AssumeRoleWithSAML","sts:TagSession"]`, "")),
			saml:       func(o *samlOpts) { o.set(attrSourceIdentity, "alice") },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},

		// 9. Tags.
		{
			name:       "tags without sts:TagSession",
			emu:        setTrust(roleARN, trustPolicy(`["sts:AssumeRoleWithSAML","sts:SetSourceIdentity"]`, "")),
			saml:       func(o *samlOpts) { o.set(attrTag+"Project", "acme") },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "TransitiveTagKeys naming no tag",
			saml: func(o *samlOpts) {
				o.set(attrTag+"Project", "acme")
				o.set(attrTransitive, "CostCenter")
			},
			wantCode:   "InvalidIdentityToken",
			wantStatus: 400,
			wantMsg:    `TransitiveTagKeys names "CostCenter", which is not a session tag`,
		},

		// 10. Trust policy.
		{
			name:       "trust policy SAML:aud = AWS sign-in URL, Recipient = Glossa ACS",
			emu:        setTrust(roleARN, trustPolicy(allActions, `{"StringEquals":{"SAML:aud":"`+awsSignIn+`"}}`)),
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name:       "trust policy without sts:AssumeRoleWithSAML",
			emu:        setTrust(roleARN, trustPolicy(`"sts:AssumeRole"`, "")),
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "trust policy for another provider",
			emu: setTrust(roleARN, strings.ReplaceAll(trustPolicy(`"sts:AssumeRoleWithSAML"`, ""),
				providerARN, otherProvARN)),
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "explicit Deny wins",
			emu: setTrust(roleARN, trustPolicy(allActions, "",
				`{"Effect":"Deny","Principal":{"Federated":"`+providerARN+`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"saml:sub":"u-4711"}}}`)),
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "ForAllValues refuses a value outside the set",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"ForAllValues:StringLike":{"saml:edupersonaffiliation":["staff","faculty"]}}`)),
			saml:       func(o *samlOpts) { o.set(attrAffiliation, "staff", "student") },
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},
		{
			name: "condition on an absent key",
			emu: setTrust(roleARN, trustPolicy(`"sts:AssumeRoleWithSAML"`,
				`{"StringEquals":{"saml:edupersonaffiliation":"staff"}}`)),
			wantCode:   "AccessDenied",
			wantStatus: 403,
			wantMsg:    "Not authorized to perform sts:AssumeRoleWithSAML",
		},

		// 11. Duration.
		{
			name:       "DurationSeconds above the role's MaxSessionDuration",
			req:        func(in *sts.AssumeRoleWithSAMLInput) { in.DurationSeconds = aws.Int32(7200) },
			wantCode:   "ValidationError",
			wantStatus: 400,
			wantMsg:    "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
		},
		{
			name:       "SessionNotOnOrAfter already passed",
			saml:       func(o *samlOpts) { o.sessionNotOnOrAfter = now.Add(-time.Second) },
			wantCode:   "ExpiredTokenException",
			wantStatus: 400,
			wantMsg:    "Response has expired",
		},
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			emu := newEmulator(t, rec)
			if tc.emu != nil {
				tc.emu(emu)
			}
			if err := emu.Check(); err != nil {
				t.Fatalf("Check: %v", err)
			}
			srv := httptest.NewServer(emu)
			defer srv.Close()
			o := defaultOpts()
			if tc.saml != nil {
				tc.saml(&o)
			}
			in := assumeInput(build(t, o))
			if tc.req != nil {
				tc.req(in)
			}
			out, err := stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), in)
			if tc.wantCode != "" {
				checkError(t, err, tc.wantCode, tc.wantStatus, tc.wantMsg, tc.wantPrefix)
				if rec.count() != 0 {
					t.Errorf("the issuer was called for a refused request")
				}
				return
			}
			if err != nil {
				t.Fatalf("AssumeRoleWithSAML: %v", err)
			}
			r := result{out: out, issued: rec.last(t)}
			checkSuccess(t, in, r)
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// checkError asserts the SDK's view of a refusal: the code, the message, the
// HTTP status, and the typed error the SDK maps the code to.
func checkError(t *testing.T, err error, code string, status int, msg string, prefix bool) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded, want %s", code)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if apiErr.ErrorCode() != code {
		t.Errorf("code = %q (%q), want %q", apiErr.ErrorCode(), apiErr.ErrorMessage(), code)
	}
	if got := apiErr.ErrorMessage(); (prefix && !strings.HasPrefix(got, msg)) || (!prefix && got != msg) {
		t.Errorf("message = %q, want %q (prefix: %v)", got, msg, prefix)
	}
	var respErr *awshttp.ResponseError
	if !errors.As(err, &respErr) {
		t.Fatalf("error %v carries no HTTP response", err)
	}
	if respErr.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", respErr.HTTPStatusCode(), status)
	}
	if respErr.ServiceRequestID() == "" {
		t.Error("no request ID")
	}
	typed := map[string]func() bool{
		"ExpiredTokenException":   func() bool { var e *types.ExpiredTokenException; return errors.As(err, &e) },
		"InvalidIdentityToken":    func() bool { var e *types.InvalidIdentityTokenException; return errors.As(err, &e) },
		"IDPRejectedClaim":        func() bool { var e *types.IDPRejectedClaimException; return errors.As(err, &e) },
		"MalformedPolicyDocument": func() bool { var e *types.MalformedPolicyDocumentException; return errors.As(err, &e) },
		"AccessDenied":            func() bool { var e *smithy.GenericAPIError; return errors.As(err, &e) },
		"ValidationError":         func() bool { var e *smithy.GenericAPIError; return errors.As(err, &e) },
	}
	if f, ok := typed[code]; !ok || !f() {
		t.Errorf("error %T is not the SDK's type for %s", apiErr, code)
	}
}

// checkSuccess asserts the fields every successful answer carries.
func checkSuccess(t *testing.T, in *sts.AssumeRoleWithSAMLInput, r result) {
	t.Helper()
	out, issued := r.out, r.issued
	role := aws.ToString(in.RoleArn)
	if issued.RoleARN != role || issued.SessionName != victim {
		t.Errorf("IssueRequest = %+v", issued)
	}
	c := out.Credentials
	if c == nil || !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIAFAKE") || aws.ToString(c.SecretAccessKey) != "secret-"+victim ||
		aws.ToString(c.SessionToken) != "token-"+victim {
		t.Errorf("Credentials = %+v", c)
	}
	// Expiration = min(now + DurationSeconds, SessionNotOnOrAfter, now +
	// SessionDuration), never the issuer's.
	if exp := aws.ToTime(c.Expiration); !exp.Equal(now.Add(issued.Duration)) || exp.After(now.Add(time.Duration(aws.ToInt32(in.DurationSeconds)+3600)*time.Second)) {
		t.Errorf("Expiration = %v with IssueRequest.Duration %v", exp, issued.Duration)
	}
	roleName := role[strings.LastIndex(role, "/")+1:]
	if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+account+":assumed-role/"+roleName+"/"+victim; got != want {
		t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, want)
	}
	if id := aws.ToString(out.AssumedRoleUser.AssumedRoleId); !strings.HasPrefix(id, "AROA") || !strings.HasSuffix(id, ":"+victim) {
		t.Errorf("AssumedRoleId = %q", id)
	}
	if aws.ToString(out.Subject) != "u-4711" || aws.ToString(out.Issuer) != idpEntityID {
		t.Errorf("Subject, Issuer = %q, %q", aws.ToString(out.Subject), aws.ToString(out.Issuer))
	}
	if aws.ToString(out.Audience) != glossaACS {
		t.Errorf("Audience = %q, want the Recipient %q", aws.ToString(out.Audience), glossaACS)
	}
	if got := aws.ToString(out.NameQualifier); got != nameQualifier() {
		t.Errorf("NameQualifier = %q, want %q", got, nameQualifier())
	}
}

// nameQualifier is AWS's example computation ([API] NameQualifier):
// BASE64(SHA1("https://example.com/saml" + "123456789012" + "/MySAMLIdP")).
func nameQualifier() string {
	sum := sha1.Sum([]byte(idpEntityID + account + "/" + providerName))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// TestRedeemTwice: one assertion may be redeemed several times within its
// window, for different roles (reference §5, gimme-aws-creds#251).
func TestRedeemTwice(t *testing.T) {
	rec := &recorder{}
	srv := httptest.NewServer(newEmulator(t, rec))
	defer srv.Close()
	client := stsClient(srv.URL)
	resp := build(t, defaultOpts())
	for _, role := range []string{roleARN, longRoleARN} {
		in := assumeInput(resp)
		in.RoleArn = aws.String(role)
		if _, err := client.AssumeRoleWithSAML(context.Background(), in); err != nil {
			t.Fatalf("%s: %v", role, err)
		}
	}
	if rec.count() != 2 {
		t.Errorf("issued %d sessions, want 2", rec.count())
	}
}

// TestProviderUpdate: replacing a provider's metadata (update-saml-provider)
// takes effect on the next request.
func TestProviderUpdate(t *testing.T) {
	emu := newEmulator(t, &recorder{})
	srv := httptest.NewServer(emu)
	defer srv.Close()
	o := defaultOpts()
	o.signer = idpKey2
	in := assumeInput(build(t, o))
	_, err := stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), in)
	checkError(t, err, "InvalidIdentityToken", 400, "Response signature invalid", false)
	emu.Providers[0].Metadata = metadata(idpEntityID, idpKey2.cert)
	if _, err := stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), in); err != nil {
		t.Fatalf("after the update: %v", err)
	}
}

// TestIssuerExpiresSooner: credentials that the issuer made shorter-lived
// than asked are reported with their real Expiration.
func TestIssuerExpiresSooner(t *testing.T) {
	rec := &recorder{expires: now.Add(20 * time.Minute)}
	srv := httptest.NewServer(newEmulator(t, rec))
	defer srv.Close()
	out, err := stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), assumeInput(build(t, defaultOpts())))
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToTime(out.Credentials.Expiration); !got.Equal(rec.expires) {
		t.Errorf("Expiration = %v, want the issuer's %v", got, rec.expires)
	}
	if d := rec.last(t).Duration; d != time.Hour {
		t.Errorf("asked the issuer for %v, want 1h", d)
	}
}

// TestIssuerError: an Issuer's *stsemu.Error reaches the caller as is, any
// other error as InternalFailure.
func TestIssuerError(t *testing.T) {
	rec := &recorder{err: &stsemu.Error{Status: 403, Code: "RegionDisabledException", Message: "STS is not activated"}}
	srv := httptest.NewServer(newEmulator(t, rec))
	defer srv.Close()
	in := assumeInput(build(t, defaultOpts()))
	_, err := stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), in)
	var typed *types.RegionDisabledException
	if !errors.As(err, &typed) {
		t.Fatalf("err = %v, want RegionDisabledException", err)
	}
	rec.err = errors.New("store down")
	_, err = stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), in)
	checkCodeStatus(t, err, "InternalFailure", 500)
}

// checkCodeStatus asserts an error's code and HTTP status only.
func checkCodeStatus(t *testing.T, err error, code string, status int) {
	t.Helper()
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) || apiErr.ErrorCode() != code || respErr.HTTPStatusCode() != status {
		t.Fatalf("err = %v, want %s (%d)", err, code, status)
	}
}

// TestWireFormat checks the bytes of both answers against AWS's shapes
// ([API] example response; reference §2).
func TestWireFormat(t *testing.T) {
	srv := httptest.NewServer(newEmulator(t, &recorder{}))
	defer srv.Close()
	post := func(form url.Values) (int, string) {
		t.Helper()
		resp, err := http.PostForm(srv.URL+"/", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if ct := resp.Header.Get("Content-Type"); ct != "text/xml" {
			t.Errorf("Content-Type = %q", ct)
		}
		if resp.Header.Get("X-Amzn-Requestid") == "" {
			t.Error("no x-amzn-RequestId header")
		}
		return resp.StatusCode, string(b)
	}
	form := url.Values{
		"Action":        {"AssumeRoleWithSAML"},
		"Version":       {"2011-06-15"},
		"RoleArn":       {roleARN},
		"PrincipalArn":  {providerARN},
		"SAMLAssertion": {build(t, defaultOpts())},
	}
	status, body := post(form)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	for _, want := range []string{
		`<AssumeRoleWithSAMLResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithSAMLResult><Credentials><AccessKeyId>ASIAFAKE`,
		`<Expiration>2026-11-20T11:00:00Z</Expiration></Credentials><AssumedRoleUser><AssumedRoleId>AROA`,
		`<Arn>arn:aws:sts::123456789012:assumed-role/GlossaTasks/alice@acme.example</Arn></AssumedRoleUser>`,
		`<Subject>u-4711</Subject><SubjectType>persistent</SubjectType><Issuer>https://idp.acme.example/saml</Issuer><Audience>https://glossa.example/saml/acme/acs</Audience><NameQualifier>`,
		`</AssumeRoleWithSAMLResult><ResponseMetadata><RequestId>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("response lacks %s:\n%s", want, body)
		}
	}
	form.Set("DurationSeconds", "7200")
	status, body = post(form)
	if want := `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>The requested DurationSeconds exceeds the MaxSessionDuration set for this role.</Message></Error><RequestId>`; status != 400 || !strings.Contains(body, want) {
		t.Errorf("status %d, body %s; want 400 and %s", status, body, want)
	}
	form.Set("Action", "AssumeRoleWithWebIdentity")
	status, body = post(form)
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code><Message>Could not find operation AssumeRoleWithWebIdentity for version 2011-06-15</Message>") {
		t.Errorf("status %d, body %s", status, body)
	}
}

// TestCheck: registration refuses what IAM refuses.
func TestCheck(t *testing.T) {
	keys(t)
	good := metadata(idpEntityID, idpKey.cert)
	many := metadata(idpEntityID, idpKey.cert, idpKey.cert, idpKey.cert, idpKey.cert, idpKey.cert, idpKey.cert,
		idpKey.cert, idpKey.cert, idpKey.cert, idpKey.cert, idpKey.cert)
	cases := []struct {
		name string
		mod  func(e *stsemu.Emulator)
		want string
	}{
		{"BOM", func(e *stsemu.Emulator) { e.Providers[0].Metadata = append([]byte("\xef\xbb\xbf"), good...) }, "Could not parse metadata: UTF-8 byte order mark"},
		{"DOCTYPE", func(e *stsemu.Emulator) {
			e.Providers[0].Metadata = []byte(`<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + string(good[strings.Index(string(good), "<md:"):]))
		}, "Could not parse metadata: DTDs"},
		{"no entityID", func(e *stsemu.Emulator) {
			e.Providers[0].Metadata = []byte(strings.Replace(string(good), `entityID="`+idpEntityID+`"`, "", 1))
		}, "Could not parse metadata: no entityID"},
		{"no signing certificate", func(e *stsemu.Emulator) { e.Providers[0].Metadata = metadata(idpEntityID) }, "Could not parse metadata: no signing certificate"},
		{"eleven certificates", func(e *stsemu.Emulator) { e.Providers[0].Metadata = many }, "Could not parse metadata: 11 signing certificates"},
		{"bad provider ARN", func(e *stsemu.Emulator) { e.Providers[0].ARN = roleARN }, "is not arn:aws:iam::ACCOUNT:saml-provider/NAME"},
		{"provider in another account", func(e *stsemu.Emulator) {
			e.Providers[0].ARN = "arn:aws:iam::999999999999:saml-provider/X"
		}, "is not in account"},
		{"trust policy not JSON", setTrust(roleARN, "{"), "MalformedPolicyDocument"},
		{"NotPrincipal", setTrust(roleARN, `{"Statement":{"Effect":"Allow","NotPrincipal":"*","Action":"sts:*"}}`), "NotPrincipal is not supported"},
		{"numeric operator", setTrust(roleARN, trustPolicy(`"sts:*"`, `{"NumericLessThan":{"saml:x":"1"}}`)), "not supported by the emulator"},
		{"MaxSessionDuration 13h", func(e *stsemu.Emulator) { e.Roles[0].MaxSessionDuration = 13 * time.Hour }, "MaxSessionDuration"},
		{"no issuer", func(e *stsemu.Emulator) { e.Issuer = nil }, "Issuer is nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			emu := newEmulator(t, &recorder{})
			tc.mod(emu)
			err := emu.Check()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, tc.want)
			}
			// Requests are answered with InternalFailure meanwhile.
			srv := httptest.NewServer(emu)
			defer srv.Close()
			_, err = stsClient(srv.URL).AssumeRoleWithSAML(context.Background(), assumeInput(build(t, defaultOpts())))
			checkCodeStatus(t, err, "InternalFailure", 500)
		})
	}
	if err := newEmulator(t, &recorder{}).Check(); err != nil {
		t.Fatalf("good configuration: %v", err)
	}
}
