package stsemu

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SeaweedIssuer returns an Issuer that obtains real credentials from
// SeaweedFS's STS AssumeRole at endpoint (its S3 port), calling as the broker
// identity whose static keys are accessKey/secretKey (SigV4-signed, as
// SeaweedFS requires; reference §14). It passes RoleArn, RoleSessionName,
// DurationSeconds and the session Policy through, so SeaweedFS scopes the
// session to the role's policies ∩ Policy.
//
// What SeaweedFS cannot carry is not forwarded: session tags and the source
// identity stay in the emulator's answer only. Managed session policies
// (PolicyArns) are refused rather than dropped, since dropping them would
// widen the session. SeaweedFS issues sessions of 900 to 43200 seconds, so a
// shorter Duration (SessionNotOnOrAfter close) is rounded up to 900 seconds:
// the credentials may then outlive the Expiration the emulator reports.
func SeaweedIssuer(endpoint, region, accessKey, secretKey string) Issuer {
	client := sts.New(sts.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: accessKey, SecretAccessKey: secretKey, Source: "stsemu.SeaweedIssuer"}, nil
		}),
	})
	return IssuerFunc(func(ctx context.Context, r IssueRequest) (Credentials, error) {
		if len(r.PolicyARNs) > 0 {
			return Credentials{}, errors.New("SeaweedIssuer: PolicyArns cannot be passed to SeaweedFS")
		}
		secs := int32((r.Duration + time.Second - 1) / time.Second)
		secs = max(secs, minDuration)
		secs = min(secs, maxDuration)
		in := &sts.AssumeRoleInput{
			RoleArn:         aws.String(r.RoleARN),
			RoleSessionName: aws.String(r.SessionName),
			DurationSeconds: aws.Int32(secs),
		}
		if r.Policy != "" {
			in.Policy = aws.String(r.Policy)
		}
		out, err := client.AssumeRole(ctx, in)
		if err != nil {
			return Credentials{}, fmt.Errorf("SeaweedFS AssumeRole: %w", err)
		}
		c := out.Credentials
		if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.SessionToken == nil || c.Expiration == nil {
			return Credentials{}, errors.New("SeaweedFS AssumeRole: incomplete credentials")
		}
		return Credentials{
			AccessKeyID:     *c.AccessKeyId,
			SecretAccessKey: *c.SecretAccessKey,
			SessionToken:    *c.SessionToken,
			Expiration:      *c.Expiration,
		}, nil
	})
}
