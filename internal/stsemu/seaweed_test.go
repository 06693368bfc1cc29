package stsemu_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithy "github.com/aws/smithy-go"

	"github.com/glossa-dev/glossa/internal/s3test"
	"github.com/glossa-dev/glossa/internal/stsemu"
)

// TestSeaweedIssuer runs the offline federation stack of reference §14 end
// to end: a signed SAML response → the emulator (checks as AWS) → SeaweedFS's
// AssumeRole as the broker → credentials that read the role's prefix and are
// refused elsewhere, narrowed further by a session policy. It needs
// GLOSSA_TEST_WEED (scripts/weed.sh) and is skipped without it.
func TestSeaweedIssuer(t *testing.T) {
	const (
		bucket   = "tasks"
		roleName = "GlossaAcme"
		provider = "arn:aws:iam::" + s3test.AccountID + ":saml-provider/" + providerName
	)
	srv := s3test.Start(t, s3test.Config{
		Roles: []s3test.Role{{Name: roleName, Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::tasks/acme/*"]},
			{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["arn:aws:s3:::tasks"]}]}`}},
		Buckets: []string{bucket},
	})
	srv.Put(t, bucket, "acme/task-1.json", []byte(`{"text":"acme"}`))
	srv.Put(t, bucket, "globex/task-9.json", []byte(`{"text":"globex"}`))
	role := srv.RoleARN(roleName)

	keys(t)
	emu := &stsemu.Emulator{
		Account:   s3test.AccountID,
		Providers: []stsemu.Provider{{ARN: provider, Metadata: metadata(idpEntityID, idpKey.cert)}},
		Roles: []stsemu.Role{{ARN: role, TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
			"Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithSAML",
			"Condition":{"StringEquals":{"SAML:aud":"` + glossaACS + `"}}}]}`}},
		Issuer: stsemu.SeaweedIssuer(srv.Endpoint, srv.Region, srv.BrokerKey, srv.BrokerSecret),
		// Now: the real clock, which SeaweedFS shares.
	}
	if err := emu.Check(); err != nil {
		t.Fatal(err)
	}
	h := httptest.NewServer(emu)
	defer h.Close()

	o := optsAt(time.Now().UTC().Truncate(time.Second))
	o.set(attrRole, provider+", "+role)
	samlResponse := build(t, o)
	assume := func(policy string) *s3.Client {
		t.Helper()
		in := &sts.AssumeRoleWithSAMLInput{
			RoleArn:         aws.String(role),
			PrincipalArn:    aws.String(provider),
			SAMLAssertion:   aws.String(samlResponse),
			DurationSeconds: aws.Int32(900),
		}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := stsClient(h.URL).AssumeRoleWithSAML(ctx, in)
		if err != nil {
			t.Fatalf("AssumeRoleWithSAML: %v", err)
		}
		if got, want := aws.ToString(out.AssumedRoleUser.Arn), "arn:aws:sts::"+s3test.AccountID+":assumed-role/"+roleName+"/"+victim; got != want {
			t.Errorf("AssumedRoleUser.Arn = %q, want %q", got, want)
		}
		if exp := aws.ToTime(out.Credentials.Expiration); exp.Before(time.Now().Add(14*time.Minute)) || exp.After(time.Now().Add(16*time.Minute)) {
			t.Errorf("Expiration = %v, want about 15 minutes from now", exp)
		}
		return srv.S3Client(s3test.SessionCredentials(out.Credentials))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	get := func(c *s3.Client, key string) (string, error) {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return "", err
		}
		defer out.Body.Close()
		b, err := io.ReadAll(out.Body)
		return string(b), err
	}
	put := func(c *s3.Client, key string) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("{}")})
		return err
	}

	// The role's own rights.
	c := assume("")
	if body, err := get(c, "acme/task-1.json"); err != nil || body != `{"text":"acme"}` {
		t.Errorf("get acme/task-1.json = %q, %v", body, err)
	}
	if err := put(c, "acme/export.json"); err != nil {
		t.Errorf("put acme/export.json: %v", err)
	}
	_, err := get(c, "globex/task-9.json")
	wantDenied(t, "get globex/task-9.json", err)
	wantDenied(t, "put globex/export.json", put(c, "globex/export.json"))

	// A session policy narrows the session to role ∩ policy: reads only.
	c = assume(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::tasks/acme/*"}]}`)
	if _, err := get(c, "acme/task-1.json"); err != nil {
		t.Errorf("narrowed get acme/task-1.json: %v", err)
	}
	wantDenied(t, "narrowed put acme/export2.json", put(c, "acme/export2.json"))
}

// wantDenied asserts SeaweedFS's AWS-shaped refusal: 403 AccessDenied.
func wantDenied(t *testing.T, what string, err error) {
	t.Helper()
	var apiErr smithy.APIError
	var respErr *awshttp.ResponseError
	if !errors.As(err, &apiErr) || !errors.As(err, &respErr) || apiErr.ErrorCode() != "AccessDenied" || respErr.HTTPStatusCode() != 403 {
		t.Errorf("%s: err = %v, want 403 AccessDenied", what, err)
	}
}
