package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// Fixed names of the rig. SeaweedFS's default account ID is 000000000000
// for static identities but 111122223333 for STS sessions unless the IAM
// configuration sets sts.accountId; the rig sets it, so every ARN below
// uses the same account.
const (
	AccountID = "000000000000"
	Region    = "us-east-1"
	// AdminARN and BrokerARN are the principals SeaweedFS derives for the
	// two static identities (arn:aws:iam::<account>:user/<identity name>);
	// trust policies name them.
	AdminARN  = "arn:aws:iam::" + AccountID + ":user/admin"
	BrokerARN = "arn:aws:iam::" + AccountID + ":user/broker"
)

// StartTimeout bounds a server's start-up: process start, S3 port, IAM
// check and bucket creation. A start takes about 5 s on two cores; the rest
// is headroom for a machine busy with `go test ./...`.
const StartTimeout = 90 * time.Second

// Role is an IAM role in the rig: ARN arn:aws:iam::000000000000:role/<Name>,
// trusted by the broker identity for sts:AssumeRole, with Policy (an IAM
// policy JSON document) attached.
type Role struct {
	Name string
	// Policy is the role's permission policy; empty means none, so a
	// session of the role may do nothing.
	Policy string
	// Trust, if set, replaces the default trust policy (the broker may
	// sts:AssumeRole) with this JSON document, e.g. to prove that SeaweedFS
	// refuses a caller the role does not trust.
	Trust string
}

// Config is what a server is started with.
type Config struct {
	Roles   []Role
	Buckets []string // created at start; the admin cannot create others by writing to them
	// MaxSessionLength caps every STS session (sts.maxSessionLength);
	// zero means 12 h. SeaweedFS validates DurationSeconds against
	// 900..43200 s before it applies the cap, so a cap below 900 s still
	// accepts DurationSeconds=900 and issues a session that short: the only
	// way to test session expiry without waiting 15 minutes.
	MaxSessionLength time.Duration
}

// Server is a running SeaweedFS.
type Server struct {
	Endpoint                string // http://127.0.0.1:<s3 port>; STS actions are form POSTs to Endpoint + "/"
	Region                  string // "us-east-1"
	AdminKey, AdminSecret   string // static identity with Admin actions (create buckets, put fixtures)
	BrokerKey, BrokerSecret string // static identity with no S3 actions; may call sts:AssumeRole on every role

	dir     string // everything of this server; removed by stop
	logFile string // weed's stdout and stderr

	// What a launch needs, kept for Restart: the binary and configuration
	// files, the buckets, and the ports and data directory of the last
	// launch.
	bin, identitiesPath, iamPath string
	buckets                      []string
	ports                        []int
	dataDir                      string
	runs                         int // launches so far; launch N lives in run<N>/

	cmd      *exec.Cmd
	done     chan struct{} // closed when the process has exited
	waitErr  error         // its exit status, once done is closed
	stopOnce sync.Once
}

// Binary returns the SeaweedFS binary named by GLOSSA_TEST_WEED, which
// scripts/weed.sh builds and prints.
func Binary() (string, error) {
	path := os.Getenv("GLOSSA_TEST_WEED")
	if path == "" {
		return "", errors.New("GLOSSA_TEST_WEED is not set: run GLOSSA_TEST_WEED=$(scripts/weed.sh) go test ./...")
	}
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("GLOSSA_TEST_WEED: %w", err)
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("GLOSSA_TEST_WEED=%s is not an executable file", path)
	}
	return path, nil
}

// requireBinary skips the test when GLOSSA_TEST_WEED is unset, or fails it
// under make test (GLOSSA_TEST_REQUIRE_ALL), where no test may be skipped.
// A GLOSSA_TEST_WEED that names no binary always fails: someone meant to
// run these tests.
func requireBinary(tb testing.TB) {
	tb.Helper()
	_, err := Binary()
	switch {
	case err == nil:
	case os.Getenv("GLOSSA_TEST_WEED") != "" || os.Getenv("GLOSSA_TEST_REQUIRE_ALL") != "":
		tb.Fatalf("s3test: %v", err)
	default:
		tb.Skipf("s3test: no SeaweedFS: %v", err)
	}
}

// Start starts a SeaweedFS for this test alone and stops it in
// tb.Cleanup; should the test fail, the tail of weed's log is logged.
// Tests that can share a server should use Shared, since each start costs
// a few seconds.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	requireBinary(tb)
	s, err := start(cfg)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("s3test: tail of SeaweedFS's log:\n%s", s.logTail())
		}
		s.stop()
	})
	return s
}

// shared holds the servers of Shared, one per distinct Config, for the
// life of the test binary. A failed start is kept too, so the tests after
// the first fail at once instead of each waiting for StartTimeout.
var shared struct {
	sync.Mutex
	servers map[string]*sharedServer
}

type sharedServer struct {
	s   *Server
	err error
}

// Shared returns the server for cfg that all tests of this test binary
// share, starting it on first use. Tests must not stop it and should use
// keys of their own, since other tests (possibly parallel ones) write to
// the same buckets. A test that fails gets the tail of weed's log.
//
// Stop the shared servers in TestMain, which also removes their temporary
// directories:
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		s3test.StopShared()
//		os.Exit(code)
//	}
//
// Without that, the process still ends with the test binary (it gets
// SIGKILL when its parent dies), but its temporary directory stays.
func Shared(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	requireBinary(tb)
	key, err := json.Marshal(cfg)
	if err != nil {
		tb.Fatalf("s3test: %v", err)
	}
	shared.Lock()
	e, ok := shared.servers[string(key)]
	if !ok {
		s, err := start(cfg)
		e = &sharedServer{s: s, err: err}
		if shared.servers == nil {
			shared.servers = make(map[string]*sharedServer)
		}
		shared.servers[string(key)] = e
	}
	shared.Unlock()
	if e.err != nil {
		tb.Fatalf("s3test: shared server: %v", e.err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("s3test: tail of the shared SeaweedFS's log:\n%s", e.s.logTail())
		}
	})
	return e.s
}

// StopShared stops the servers Shared started and removes their
// directories. Call it from TestMain after m.Run.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	for _, e := range shared.servers {
		if e.s != nil {
			e.s.stop()
		}
	}
	shared.servers = nil
}

// RoleARN returns the ARN of the role called name.
func (s *Server) RoleARN(name string) string {
	return "arn:aws:iam::" + AccountID + ":role/" + name
}

// AdminCredentials returns the admin's static credentials.
func (s *Server) AdminCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: s.AdminKey, SecretAccessKey: s.AdminSecret, Source: "s3test admin"}
}

// BrokerCredentials returns the broker's static credentials.
func (s *Server) BrokerCredentials() aws.Credentials {
	return aws.Credentials{AccessKeyID: s.BrokerKey, SecretAccessKey: s.BrokerSecret, Source: "s3test broker"}
}

// SessionCredentials converts the credentials of an STS response.
func SessionCredentials(c *ststypes.Credentials) aws.Credentials {
	if c == nil {
		return aws.Credentials{}
	}
	creds := aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          "s3test STS session",
	}
	if c.Expiration != nil {
		creds.CanExpire, creds.Expires = true, *c.Expiration
	}
	return creds
}

// S3Client returns an aws-sdk-go-v2 S3 client for the server: path-style,
// the rig's region and endpoint, SDK defaults otherwise (including the
// default request checksums). Zero credentials make an anonymous client.
func (s *Server) S3Client(creds aws.Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentialsProvider(creds),
	})
}

// STSClient returns an aws-sdk-go-v2 STS client that signs with creds and
// sends to the server's S3 port, where SeaweedFS serves STS.
func (s *Server) STSClient(creds aws.Credentials) *sts.Client {
	return sts.New(sts.Options{
		Region:       s.Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials:  credentialsProvider(creds),
	})
}

func credentialsProvider(creds aws.Credentials) aws.CredentialsProvider {
	if creds.AccessKeyID == "" {
		return aws.AnonymousCredentials{}
	}
	return credentials.StaticCredentialsProvider{Value: creds}
}

// Put stores body at bucket/key as the admin, failing the test on error.
func (s *Server) Put(tb testing.TB, bucket, key string, body []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := s.S3Client(s.AdminCredentials()).PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	if err != nil {
		tb.Fatalf("s3test: put %s/%s as admin: %v", bucket, key, err)
	}
}

// Get reads bucket/key as the admin, e.g. to check that an export landed.
func (s *Server) Get(tb testing.TB, bucket, key string) ([]byte, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := s.S3Client(s.AdminCredentials()).GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

// roleName is what IAM allows in a role name.
var roleName = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)

func (cfg Config) validate() error {
	seen := make(map[string]bool)
	for _, r := range cfg.Roles {
		if !roleName.MatchString(r.Name) {
			return fmt.Errorf("role name %q: want 1-64 characters of [A-Za-z0-9_+=,.@-]", r.Name)
		}
		if seen[r.Name] {
			return fmt.Errorf("role %q twice", r.Name)
		}
		seen[r.Name] = true
		// SeaweedFS logs a policy it cannot parse and carries on without it
		// (or without the whole IAM configuration), so catch what we can here.
		for what, doc := range map[string]string{"policy": r.Policy, "trust policy": r.Trust} {
			if doc != "" && !isJSONObject(doc) {
				return fmt.Errorf("role %s: %s is not a JSON object", r.Name, what)
			}
		}
	}
	if cfg.MaxSessionLength < 0 {
		return errors.New("negative MaxSessionLength")
	}
	return nil
}

func isJSONObject(s string) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal([]byte(s), &m) == nil
}

// identitiesFile is the static identity file (-s3.config), SeaweedFS's
// iam_pb.S3ApiConfiguration in protojson.
type identitiesFile struct {
	Identities []identity `json:"identities"`
}

type identity struct {
	Name        string       `json:"name"`
	Credentials []credential `json:"credentials"`
	Actions     []string     `json:"actions"`
}

type credential struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// iamFile is the advanced IAM file (-s3.iam.config), read by
// weed/s3api/s3api_server.go loadIAMManagerFromConfig.
type iamFile struct {
	STS struct {
		TokenDuration    string `json:"tokenDuration"`    // Go duration string or integer nanoseconds
		MaxSessionLength string `json:"maxSessionLength"` // same
		Issuer           string `json:"issuer"`
		SigningKey       []byte `json:"signingKey"` // base64 in JSON; at least 16 bytes
		AccountID        string `json:"accountId"`
	} `json:"sts"`
	Policy struct {
		DefaultEffect string `json:"defaultEffect"`
	} `json:"policy"`
	Policies []iamPolicy `json:"policies"`
	Roles    []iamRole   `json:"roles"`
}

type iamPolicy struct {
	Name     string          `json:"name"`
	Document json.RawMessage `json:"document"`
}

type iamRole struct {
	RoleName         string          `json:"roleName"`
	RoleArn          string          `json:"roleArn"`
	TrustPolicy      json.RawMessage `json:"trustPolicy"`
	AttachedPolicies []string        `json:"attachedPolicies"`
}

// brokerTrust lets the broker assume a role.
const brokerTrust = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
	`"Principal":{"AWS":"` + BrokerARN + `"},"Action":"sts:AssumeRole"}]}`

func (s *Server) writeConfig(cfg Config, identitiesPath, iamPath string) error {
	ids := identitiesFile{Identities: []identity{
		// Admin is SeaweedFS's all-powerful action; the others are spelled
		// out for readers who grep for them.
		{Name: "admin", Credentials: []credential{{s.AdminKey, s.AdminSecret}}, Actions: []string{"Admin", "Read", "List", "Tagging", "Write"}},
		{Name: "broker", Credentials: []credential{{s.BrokerKey, s.BrokerSecret}}, Actions: []string{}},
	}}
	var iam iamFile
	iam.STS.TokenDuration = "1h" // AWS's default when DurationSeconds is absent
	maxSession := cfg.MaxSessionLength
	if maxSession == 0 {
		maxSession = 12 * time.Hour
	}
	iam.STS.MaxSessionLength = maxSession.String()
	iam.STS.Issuer = "glossa-s3test"
	iam.STS.SigningKey = make([]byte, 32)
	rand.Read(iam.STS.SigningKey)
	iam.STS.AccountID = AccountID
	iam.Policy.DefaultEffect = "Deny"
	iam.Policies, iam.Roles = []iamPolicy{}, []iamRole{}
	for _, r := range cfg.Roles {
		role := iamRole{RoleName: r.Name, RoleArn: s.RoleARN(r.Name), TrustPolicy: json.RawMessage(brokerTrust), AttachedPolicies: []string{}}
		if r.Trust != "" {
			role.TrustPolicy = json.RawMessage(r.Trust)
		}
		if r.Policy != "" {
			name := r.Name + "-policy"
			iam.Policies = append(iam.Policies, iamPolicy{Name: name, Document: json.RawMessage(r.Policy)})
			role.AttachedPolicies = append(role.AttachedPolicies, name)
		}
		iam.Roles = append(iam.Roles, role)
	}
	for path, v := range map[string]any{identitiesPath: ids, iamPath: iam} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// start starts a server: writes its configuration, launches weed (again
// on fresh ports if one was taken meanwhile), then waits until it serves.
func start(cfg Config) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "glossa-s3test-")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Region:         Region,
		AdminKey:       accessKey(),
		AdminSecret:    secretKey(),
		BrokerKey:      accessKey(),
		BrokerSecret:   secretKey(),
		dir:            dir,
		bin:            bin,
		identitiesPath: filepath.Join(dir, "identities.json"),
		iamPath:        filepath.Join(dir, "iam.json"),
		buckets:        cfg.Buckets,
	}
	if err := s.writeConfig(cfg, s.identitiesPath, s.iamPath); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	deadline := time.Now().Add(StartTimeout)
	for attempt := 1; ; attempt++ {
		err = s.launch(nil, "", deadline)
		if err == nil {
			break
		}
		tail := s.logTail()
		s.kill()
		if errors.Is(err, errPortTaken) && attempt < 3 && time.Now().Before(deadline) {
			continue
		}
		s.stop()
		return nil, fmt.Errorf("%v\n--- tail of %s:\n%s", err, s.logFile, tail)
	}
	if err := s.ready(deadline); err != nil {
		tail := s.logTail()
		s.stop()
		return nil, fmt.Errorf("%v\n--- tail of %s:\n%s", err, s.logFile, tail)
	}
	return s, nil
}

// ready waits until a launched server serves: STS took the IAM
// configuration, and the buckets exist (created, or there from before a
// Restart) once the filer behind the S3 gateway has settled.
func (s *Server) ready(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := s.checkIAM(ctx); err != nil {
		return err
	}
	return s.createBuckets(ctx, s.buckets)
}

// Stop stops the server as an outage would: its requests fail (connection
// refused) until Restart. Only for a server of Start, never a shared one.
func (s *Server) Stop() { s.kill() }

// Restart starts a server that Stop stopped, on the ports and data it
// had: Endpoint, the objects, the identities and the STS signing key stay
// the same, so credentials issued before the stop work again. It fails the
// test when weed cannot have its ports back or does not serve within
// StartTimeout.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	if !s.exited() {
		tb.Fatal("s3test: Restart of a server that is running")
	}
	deadline := time.Now().Add(StartTimeout)
	err := s.launch(s.ports, s.dataDir, deadline)
	if err == nil {
		err = s.ready(deadline)
	}
	if err != nil {
		tail := s.logTail()
		s.kill()
		tb.Fatalf("s3test: restart: %v\n--- tail of %s:\n%s", err, s.logFile, tail)
	}
}

// errPortTaken marks a start that failed because a port was taken between
// choosing it and weed binding it.
var errPortTaken = errors.New("port taken")

// launch runs weed mini in a new run directory, on ports (fresh ones if
// nil) and with its data in dataDir (a new one if empty), and waits until
// its S3 port answers.
func (s *Server) launch(ports []int, dataDir string, deadline time.Time) error {
	s.runs++
	runDir := filepath.Join(s.dir, "run"+strconv.Itoa(s.runs))
	if dataDir == "" {
		dataDir = filepath.Join(runDir, "data")
	}
	for _, d := range []string{runDir, dataDir, filepath.Join(runDir, "log")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	// Hold the machine-wide start-up lock while choosing ports until weed
	// has bound them, so that two test binaries starting servers at once
	// (go test ./... runs packages in parallel) cannot choose the same one.
	unlock := lockStartup()
	defer unlock()
	const (
		master = iota
		masterGRPC
		volume
		volumeGRPC
		filer
		filerGRPC
		s3Port
		s3GRPC
		admin
		adminGRPC
		webdav
		nPorts
	)
	if ports == nil {
		var err error
		if ports, err = freePorts(nPorts); err != nil {
			return err
		}
	}
	s.ports, s.dataDir = ports, dataDir
	p := func(i int) string { return strconv.Itoa(ports[i]) }
	args := []string{
		// glog's files (INFO, WARNING, ERROR); stderr gets warnings and
		// errors only, which weed mini arranges itself.
		"-logdir=" + filepath.Join(runDir, "log"),
		"mini",
		"-dir=" + dataDir,
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		// Every port explicit: mini would otherwise take its defaults
		// (9333, 8333, ...) or derive gRPC ports as HTTP port + 10000, and
		// silently move to the next free port when one is taken, which
		// could be another server's. An explicit port that is taken makes
		// it exit instead, and launch tries again.
		"-master.port=" + p(master), "-master.port.grpc=" + p(masterGRPC),
		"-volume.port=" + p(volume), "-volume.port.grpc=" + p(volumeGRPC),
		"-filer.port=" + p(filer), "-filer.port.grpc=" + p(filerGRPC),
		"-s3.port=" + p(s3Port), "-s3.port.grpc=" + p(s3GRPC),
		"-admin.port=" + p(admin), "-admin.port.grpc=" + p(adminGRPC),
		// WebDAV is off but its port is checked all the same.
		"-webdav=false", "-webdav.port=" + p(webdav),
		// Listeners the rig has no use for, on fixed default ports.
		"-admin.port.legacy=0", "-s3.port.iceberg=0", "-s3.port.lance=0",
		// No phoning home, and small volumes (mini sizes them by the disk).
		"-master.telemetry=false", "-master.volumeSizeLimitMB=64",
		"-s3.config=" + s.identitiesPath,
		"-s3.iam.config=" + s.iamPath,
		// Writing to a missing bucket is an error, as on AWS, rather than
		// creating it for the admin.
		"-s3.autoCreateBucket=false",
	}
	cmd := exec.Command(s.bin, args...)
	// weed reads security.toml, master.toml, filer.toml, ... from ".",
	// $HOME/.seaweedfs and /etc/seaweedfs, and WEED_* and S3_* variables
	// from the environment; keep the developer's out of the rig.
	cmd.Dir = runDir
	cmd.Env = []string{"HOME=" + runDir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "WEED_") && !strings.HasPrefix(kv, "S3_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	s.logFile = filepath.Join(runDir, "weed.log")
	out, err := os.Create(s.logFile)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = out, out
	setProcAttr(cmd)
	if err := startProcess(cmd); err != nil {
		out.Close()
		return fmt.Errorf("start %s: %w", s.bin, err)
	}
	s.cmd, s.done = cmd, make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		out.Close()
		close(s.done)
	}()
	s.Endpoint = "http://127.0.0.1:" + p(s3Port)
	if err := s.waitHTTP(s.Endpoint+"/", deadline); err != nil {
		return err
	}
	// The admin server binds last, after S3; wait for it as well (briefly:
	// the rig does not need it) so the lock covers its ports too.
	adminDeadline := time.Now().Add(10 * time.Second)
	if deadline.Before(adminDeadline) {
		adminDeadline = deadline
	}
	s.waitTCP("127.0.0.1:"+p(admin), adminDeadline)
	return nil
}

// waitHTTP polls url until it answers at all (any status: S3 refuses an
// anonymous request, and that is an answer), the process exits or the
// deadline passes.
func (s *Server) waitHTTP(url string, deadline time.Time) error {
	c := &http.Client{Timeout: 2 * time.Second}
	var last error
	for time.Now().Before(deadline) {
		if s.exited() {
			err := fmt.Errorf("weed exited before its S3 port answered (%v)", s.waitErr)
			if portTaken(s.logTail()) {
				err = fmt.Errorf("%w: %v", errPortTaken, err)
			}
			return err
		}
		resp, err := c.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("S3 port not answering after %v: %v", StartTimeout, last)
}

func (s *Server) waitTCP(addr string, deadline time.Time) {
	for time.Now().Before(deadline) && !s.exited() {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// portTaken reports whether weed's log says it could not have a port.
func portTaken(log string) bool {
	return strings.Contains(log, "is not available") || strings.Contains(log, "address already in use") ||
		strings.Contains(log, "reserved for gRPC")
}

// iamFailures are what SeaweedFS logs, and otherwise ignores, when it
// cannot use part of the IAM configuration: without the whole file it
// runs with no STS at all; without a policy or role, sessions are denied
// everything. Start fails on them rather than letting tests fail obscurely.
var iamFailures = []string{
	"Failed to load IAM configuration",
	"Failed to create policy",
	"Failed to load role",
	"Failed to create role",
}

// checkIAM makes sure the IAM configuration took: STS answers the broker
// (it exists only when the file loaded) with the broker's ARN, and no
// policy or role was dropped.
func (s *Server) checkIAM(ctx context.Context) error {
	out, err := s.STSClient(s.BrokerCredentials()).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("GetCallerIdentity as broker (is the IAM configuration loaded?): %w", err)
	}
	if got := aws.ToString(out.Arn); got != BrokerARN {
		return fmt.Errorf("GetCallerIdentity as broker: ARN %s, want %s", got, BrokerARN)
	}
	log, _ := os.ReadFile(s.logFile)
	for _, line := range strings.Split(string(log), "\n") {
		for _, f := range iamFailures {
			if strings.Contains(line, f) {
				return fmt.Errorf("SeaweedFS did not take the IAM configuration: %s", line)
			}
		}
	}
	return nil
}

// createBuckets creates the buckets as the admin, retrying while the
// filer behind the S3 gateway settles.
func (s *Server) createBuckets(ctx context.Context, buckets []string) error {
	c := s.S3Client(s.AdminCredentials())
	for _, b := range buckets {
		for {
			_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
			var apiErr smithy.APIError
			if err == nil || errors.As(err, &apiErr) && apiErr.ErrorCode() == "BucketAlreadyOwnedByYou" {
				break
			}
			if ctx.Err() != nil || errors.As(err, &apiErr) && apiErr.ErrorCode() == "InvalidBucketName" {
				return fmt.Errorf("create bucket %s: %w", b, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

func (s *Server) exited() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// stop stops weed and removes the server's directory.
func (s *Server) stop() {
	s.stopOnce.Do(func() {
		s.kill()
		os.RemoveAll(s.dir)
	})
}

// kill ends weed with SIGTERM to its process group (it shuts down in about
// 3 s), or SIGKILL if it takes longer than 15 s, and waits for it.
func (s *Server) kill() {
	if s.cmd == nil || s.exited() {
		return
	}
	signalGroup(s.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		signalGroup(s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.done
	}
}

// logTail returns the end of weed's log.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logFile)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const max = 8 << 10
	if len(b) > max {
		b = b[len(b)-max:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		b = append([]byte("[...]\n"), b...)
	}
	return string(b)
}

// freePorts returns n distinct loopback ports that were free a moment
// ago, chosen at random below the kernel's ephemeral range: weed dials
// many connections while starting, and one of them could take a port in
// that range before the service meant to listen on it does (weed warns
// about exactly that for its admin gRPC port).
func freePorts(n int) ([]int, error) {
	lo, hi := 15000, ephemeralFloor()
	if hi-lo < 1000 {
		hi = 65536
	}
	var ports []int
	seen := make(map[int]bool)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 10000 {
			return nil, errors.New("no free ports")
		}
		p := lo + randIntN(hi-lo)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports, nil
}

// ephemeralFloor returns the lowest port Linux hands out for outgoing
// connections (net.ipv4.ip_local_port_range), 32768 elsewhere.
func ephemeralFloor() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 0 {
				return n
			}
		}
	}
	return 32768
}

func randIntN(n int) int {
	var b [8]byte
	rand.Read(b[:])
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return int(v % uint64(n))
}

// accessKey returns a random access key ID in AWS's shape (AKIA and 16
// base-32 characters); each server has its own, so a client that reached
// another test binary's server by mistake would be refused.
func accessKey() string { return "AKIA" + rand.Text()[:16] }

// secretKey returns a random 40-character secret access key.
func secretKey() string { return (rand.Text() + rand.Text())[:40] }

// spawner starts processes from one goroutine locked to its OS thread for
// the life of the test binary. The parent-death signal (Linux Pdeathsig)
// fires when the thread that started the child exits, not the process,
// and the Go runtime ends a thread when a goroutine locked to it exits; a
// thread that never ends makes the signal mean "the test binary died".
var spawner struct {
	once sync.Once
	reqs chan spawnReq
}

type spawnReq struct {
	cmd *exec.Cmd
	err chan error
}

func startProcess(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawnReq)
		go func() {
			runtime.LockOSThread()
			for r := range spawner.reqs {
				r.err <- r.cmd.Start()
			}
		}()
	})
	r := spawnReq{cmd: cmd, err: make(chan error, 1)}
	spawner.reqs <- r
	return <-r.err
}
