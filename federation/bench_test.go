package federation_test

import (
	"context"
	"crypto/rand"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/federation"
	"github.com/glossa-dev/glossa/internal/benchstat"
	"github.com/glossa-dev/glossa/internal/s3test"
	"github.com/glossa-dev/glossa/internal/samltest"
	"github.com/glossa-dev/glossa/internal/stsemu"
	"github.com/glossa-dev/glossa/internal/testpg"
	"github.com/glossa-dev/glossa/secret"
	"github.com/glossa-dev/glossa/store"
)

// benchRig is the SeaweedFS of BenchmarkSignInExchanges: two roles, each
// with a folder of the bucket.
var benchRig = s3test.Config{
	Roles: []s3test.Role{
		{Name: "TeamA", Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::tasks/teamA/*"]}]}`},
		{Name: "TeamB", Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::tasks/teamB/*"]}]}`},
	},
	Buckets: []string{"tasks"},
}

// BenchmarkSignInExchanges measures what federation adds to a sign-in:
// Broker.AfterSSO, the ACS's post-sign-in hook, for a person whose
// organization has saml_federated storages of two roles (two-roles) or one
// (one-role), exchanging the person's signed SAML response at the STS
// emulator (internal/stsemu: AWS's checks, the signature included), which
// obtains each session from SeaweedFS's AssumeRole, and saving the sealed
// credentials in the real store on each engine. none is the same hook in
// an organization without per-person storages (one query): the sign-in
// without federation. assume-role is the floor under one exchange:
// SeaweedFS's AssumeRole called directly, as the emulator calls it.
//
// Every iteration exchanges a fresh response, signed with the timer
// stopped. ns/op is one sign-in's hook; p50-ms and p99-ms are over all
// the iterations of a run.
func BenchmarkSignInExchanges(b *testing.B) {
	srv := s3test.Shared(b, benchRig)
	testIdP(b)
	prov := "arn:aws:iam::" + s3test.AccountID + ":saml-provider/AcmeIdP"
	roles := []string{srv.RoleARN("TeamA"), srv.RoleARN("TeamB")}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + prov +
		`"},"Action":"sts:AssumeRoleWithSAML","Condition":{"StringEquals":{"SAML:aud":"` + acs + `"}}}]}`
	emu := &stsemu.Emulator{
		Account:   s3test.AccountID,
		Providers: []stsemu.Provider{{ARN: prov, Metadata: idp.Metadata()}},
		Roles:     []stsemu.Role{{ARN: roles[0], TrustPolicy: trust}, {ARN: roles[1], TrustPolicy: trust}},
		Issuer:    stsemu.SeaweedIssuer(srv.Endpoint, srv.Region, srv.BrokerKey, srv.BrokerSecret),
	}
	if err := emu.Check(); err != nil {
		b.Fatal(err)
	}
	h := httptest.NewServer(emu)
	b.Cleanup(h.Close)
	ctx := context.Background()

	b.Run("assume-role", func(b *testing.B) {
		client := srv.STSClient(srv.BrokerCredentials())
		var lat []time.Duration
		for b.Loop() {
			start := time.Now()
			_, err := client.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roles[0]),
				RoleSessionName: aws.String(email), DurationSeconds: aws.Int32(900)})
			lat = append(lat, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
		benchstat.ReportLatency(b, lat)
	})

	for _, e := range []struct {
		name string
		dsn  func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "glossa.db") }},
		{"postgres", func(b *testing.B) string { return testpg.DSN(b) }},
	} {
		b.Run(e.name, func(b *testing.B) {
			db, err := store.Open(ctx, e.dsn(b))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				b.Fatal(err)
			}
			key := make([]byte, secret.KeySize)
			rand.Read(key)
			sealer, err := secret.New(key)
			if err != nil {
				b.Fatal(err)
			}
			broker := &federation.Broker{Store: db, Sealer: sealer, Audit: db}
			for n, name := range []string{"none", "one-role", "two-roles"} {
				// An organization of its own, with n saml_federated storages.
				org := &glossa.Organization{Title: name, Slug: name}
				owner := &glossa.User{Email: email, FirstName: "Alice", LastName: "A", PasswordHash: "$argon2id$x"}
				if err := db.CreateOrganization(ctx, org, owner); err != nil {
					b.Fatal(err)
				}
				p := &glossa.Project{OrgID: org.ID, Title: "P", LabelConfig: "<View/>"}
				if err := db.CreateProject(ctx, p); err != nil {
					b.Fatal(err)
				}
				var storages []*glossa.Storage
				for _, role := range roles[:n] {
					st := &glossa.Storage{OrgID: org.ID, ProjectID: p.ID, Type: glossa.StorageSource, Bucket: "tasks",
						AuthMode: glossa.AuthSAMLFederated, RoleARN: role, PrincipalARN: prov, SessionDuration: 900,
						RegionName: srv.Region, S3Endpoint: srv.Endpoint, STSEndpoint: h.URL}
					if err := db.CreateStorage(ctx, st); err != nil {
						b.Fatal(err)
					}
					storages = append(storages, st)
				}
				m := &glossa.Member{User: *owner, Role: glossa.RoleOwner}
				var pairs []string
				for _, role := range roles {
					pairs = append(pairs, samltest.RolePair(role, prov))
				}
				id := &glossa.SAMLIdentity{IdPEntityID: idpEntity, NameID: "u-4711", Email: email,
					Attributes: map[string][]string{samltest.AttrRole: pairs}}
				b.Run(name, func(b *testing.B) {
					var lat []time.Duration
					for b.Loop() {
						b.StopTimer()
						resp := idp.Sign(b, samltest.Response{
							NameID: "u-4711", Recipient: acs, Audiences: []string{glossaEntity, samltest.AudienceAWS},
							Attributes: []samltest.Attribute{
								{Name: samltest.AttrRole, Values: pairs},
								{Name: samltest.AttrRoleSessionName, Values: []string{email}},
							},
						})
						b.StartTimer()
						start := time.Now()
						err := broker.AfterSSO(ctx, m, id, resp)
						lat = append(lat, time.Since(start))
						if err != nil {
							b.Fatalf("AfterSSO: %v", err)
						}
					}
					benchstat.ReportLatency(b, lat)
					// The sign-in left working credentials for each storage.
					for _, st := range storages {
						creds, err := broker.Credentials(ctx, st, owner.ID)
						if err != nil || creds.AccessKeyID == "" || time.Until(creds.Expires) < 10*time.Minute {
							b.Fatalf("storage %d after the sign-ins: %+v, %v", st.ID, creds, err)
						}
					}
				})
			}
		})
	}
}
