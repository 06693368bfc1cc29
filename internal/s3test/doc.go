// Package s3test starts a real SeaweedFS ("weed mini") on loopback for
// tests: an S3 store whose IAM (static identities, roles, policies) and STS
// (AssumeRole) actually decide what a request may do. It owns the storage
// rig of Glossa's broker mode (reference aws-saml-federation.md §11, §14):
// the platform's broker principal assumes a customer's role per storage
// connection and reads tasks and writes exports with the session's
// credentials, through the same aws-sdk-go-v2 client as in production.
// Fakes that accept any credentials (gofakes3, moto) cannot show that a
// session is confined to its prefix, that a session policy narrows it, or
// that presigned URLs and sessions expire; this rig can, and its tests
// prove it does.
//
//	var rig = s3test.Config{
//		Roles:   []s3test.Role{{Name: "TeamA", Policy: teamAPolicy}},
//		Buckets: []string{"tasks"},
//	}
//
//	s := s3test.Shared(t, rig) // or s3test.Start(t, cfg) for a server of its own
//	s.Put(t, "tasks", "teamA/1.json", fixture)
//	out, err := s.STSClient(s.BrokerCredentials()).AssumeRole(ctx, &sts.AssumeRoleInput{
//		RoleArn: aws.String(s.RoleARN("TeamA")), RoleSessionName: aws.String("alice"),
//		DurationSeconds: aws.Int32(900)})
//	client := s.S3Client(s3test.SessionCredentials(out.Credentials))
//
// Each server has two static identities with fresh random keys: admin
// (SeaweedFS's Admin action: fixtures, reading exports back) and broker
// (no S3 action at all; every role trusts it for sts:AssumeRole unless
// Role.Trust says otherwise). Roles are arn:aws:iam::000000000000:role/NAME
// with Role.Policy attached; policies default to Deny. STS is served on the
// S3 port (form POSTs to Endpoint + "/"). The binary comes from
// GLOSSA_TEST_WEED, which scripts/weed.sh builds once per machine and
// prints:
//
//	GLOSSA_TEST_WEED=$(scripts/weed.sh) go test ./internal/s3test/
//
// Without it tests are skipped, or fail under make test
// (GLOSSA_TEST_REQUIRE_ALL), where nothing may be skipped.
//
// A start takes about 5 s on two cores (4 s until the S3 port answers, of
// which the filer takes 3), and the first write to a bucket about 1 s more
// while SeaweedFS grows a volume for it; SIGTERM stops it in about 3 s.
// Shared keeps one server per Config for the whole test binary; stop it
// from TestMain with StopShared. A server of Start can be stopped and
// restarted (Server.Stop, Server.Restart) to show what an outage does: in
// between, its requests are refused; afterwards it serves the same
// endpoint, objects and STS signing key, so sessions from before work
// again.
//
// Each server lives in its own temporary directory: identities.json,
// iam.json, and a runN/ per launch (a start that lost a port, or a
// Restart) with weed.log, weed's output, and log/, glog's files; the data
// stays in the data/ of the launch that started. Its eleven random
// loopback ports lie below the kernel's ephemeral range and are chosen
// under a machine-wide lock ($TMPDIR/glossa-s3test.lock) so that test
// binaries running in parallel cannot choose the same ones; a start that
// loses a port anyway is retried on others. weed gets a process group of
// its own and, on Linux, SIGKILL when the test binary dies, so none
// outlives a test timeout.
//
// # What SeaweedFS enforces
//
// Established by this package's tests against SeaweedFS
// v0.0.0-20261109003541-7506e5f91cd6 ("version 30GB 4.53"):
//   - The broker's static keys get 403 AccessDenied for GetObject,
//     PutObject and ListObjects; anonymous requests too.
//   - AssumeRole as the broker: the session's ARN is
//     arn:aws:sts::000000000000:assumed-role/ROLE/SESSION (GetCallerIdentity
//     with the session says the same), its key starts with ASIA, and it
//     expires DurationSeconds later. DurationSeconds outside 900..43200 is
//     400 InvalidParameterValue; a role that does not exist or does not
//     trust the caller is 403 AccessDenied; a wrong signature is 403
//     SignatureDoesNotMatch.
//   - The session may do what the role's policy allows and nothing else
//     (403 AccessDenied), and a session Policy is intersected with it: it
//     narrows the role, it cannot widen it.
//   - The session token is an HS256 JWT signed with the server's key; its
//     claims (seen, not asserted) name the role, its policies, the session
//     and exp. It is stateless, so sessions cannot be revoked. Edited claims, a foreign
//     signature, another session's token or none: 403 InvalidAccessKeyId.
//   - Sessions expire: once past Expiration, requests and presigned URLs
//     made with them (whatever their X-Amz-Expires) get 403
//     InvalidAccessKeyId. AWS says 400 ExpiredToken there; code that must
//     tell an expired session apart cannot learn how from this rig.
//   - Presigned URLs (SigV4 in the query, with X-Amz-Security-Token) work
//     with plain net/http, carry the session's permissions (403
//     AccessDenied outside them), are bound to their path (403
//     SignatureDoesNotMatch) and expire: X-Amz-Expires is enforced to the
//     second, 403 AccessDenied "Request has expired", as on AWS.
//   - sts:ExternalId is not evaluated: a trust policy conditioned on it
//     refuses every ExternalId, the right one included. Broker mode has to
//     check external IDs itself.
//   - There is no AssumeRoleWithSAML: 400 InvalidAction "unsupported
//     action: AssumeRoleWithSAML". The rig cannot federate SAML; a facade
//     must verify the SAML response and call AssumeRole as the broker
//     (reference §14, "Offline federation stack").
//   - Not tested here: SeaweedFS also accepts AssumeRole without RoleArn
//     (the caller assumes itself, given an sts:AssumeRole permission) where
//     AWS requires it; the SDK refuses to send such a request anyway.
//
// # Configuration, and quirks found on the way
//
//   - The module has no test/s3/iam/ any more (reference §14 names it); the
//     file shapes here come from the code: identities.json is
//     iam_pb.S3ApiConfiguration in protojson (-s3.config), iam.json is read
//     by loadIAMManagerFromConfig in weed/s3api/s3api_server.go
//     (-s3.iam.config): sts {tokenDuration, maxSessionLength, issuer,
//     signingKey, accountId}, policy {defaultEffect}, policies [{name,
//     document}], roles [{roleName, roleArn, trustPolicy,
//     attachedPolicies}]. Durations are Go duration strings ("1h") or
//     integer nanoseconds; signingKey is base64 of at least 16 bytes;
//     Action and Resource may be a string or a list.
//   - sts.accountId defaults to 111122223333 while static identities are
//     arn:aws:iam::000000000000:user/NAME; the rig sets it to 000000000000
//     so that trust policies and session ARNs agree.
//   - SeaweedFS logs and otherwise ignores an IAM file it cannot use
//     (then it runs without STS) and drops policies and roles it cannot
//     load (then sessions may do nothing). Start checks that STS answers
//     GetCallerIdentity with the broker's ARN and fails on those log lines.
//   - sts.maxSessionLength caps sessions after DurationSeconds is checked
//     against 900..43200 s, so Config.MaxSessionLength below 900 s gives
//     short sessions to a client that asks for 900 s.
//   - weed mini takes default ports (9333, 8333, 8888, ...), derives gRPC
//     ports as HTTP port + 10000, and moves silently to the next free port
//     when a default one is taken, possibly one another server is about to
//     use; an explicit port that is taken makes it exit instead. So every
//     port is explicit, WebDAV's included (checked even with -webdav=false),
//     and the Iceberg (8181), Lance (9101) and legacy admin (23646)
//     listeners are off. Telemetry is on by default; off here.
//   - It reads security.toml, master.toml, filer.toml from ".",
//     $HOME/.seaweedfs and /etc/seaweedfs and WEED_* and S3_* variables
//     from the environment: the rig runs it in its own directory with HOME
//     there and those variables removed. -logdir is a flag of weed, before
//     "mini". mini writes mini.options into -dir and its gRPC Unix sockets
//     to /tmp/seaweedfs-SERVICE-grpc-PORT.sock (removed on shutdown).
//   - The S3 gateway creates a missing bucket on an admin's write unless
//     -s3.autoCreateBucket=false, which the rig sets: Config.Buckets are
//     the buckets there are.
//   - -s3.iam.readOnly stays at its default, true: IAM is what the
//     configuration files say, and no test can change it at run time.
//   - The filer warns that its IAM gRPC service is unauthenticated; it is
//     bound to loopback.
//
// The package is for tests only; it is not imported by Glossa's binary.
package s3test
