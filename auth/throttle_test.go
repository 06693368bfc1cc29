package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	glossa "github.com/glossa-dev/glossa"
	"github.com/glossa-dev/glossa/auth"
)

// memThrottle is an in-memory glossa.ThrottleService with the store's
// semantics: failures are counted at or after since; clearing a key drops
// all of its failures.
type memThrottle struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	err      error // returned by every method when set
}

var _ glossa.ThrottleService = (*memThrottle)(nil)

func newMemThrottle() *memThrottle { return &memThrottle{failures: map[string][]time.Time{}} }

func (m *memThrottle) RecordSignInFailure(ctx context.Context, key string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.failures[key] = append(m.failures[key], at)
	return nil
}

func (m *memThrottle) CountSignInFailures(ctx context.Context, key string, since time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return 0, m.err
	}
	n := 0
	for _, at := range m.failures[key] {
		if !at.Before(since) {
			n++
		}
	}
	return n, nil
}

func (m *memThrottle) ClearSignInFailures(ctx context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	delete(m.failures, key)
	return nil
}

func (m *memThrottle) count(key string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.failures[key])
}

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time          { return c.t }
func (c *clock) Advance(d time.Duration) { c.t = c.t.Add(d) }

func newThrottle() (*auth.Throttle, *memThrottle, *clock) {
	store := newMemThrottle()
	c := &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	return &auth.Throttle{Store: store, Now: c.Now}, store, c
}

func mustFail(t *testing.T, th *auth.Throttle, account, addr string, n int) {
	t.Helper()
	for range n {
		if err := th.Failed(context.Background(), account, addr); err != nil {
			t.Fatalf("Failed: %v", err)
		}
	}
}

func wantAllowed(t *testing.T, th *auth.Throttle, account, addr string) {
	t.Helper()
	if wait, err := th.Allow(context.Background(), account, addr); err != nil || wait != 0 {
		t.Errorf("Allow(%q, %q) = %v, %v; want 0, nil", account, addr, wait, err)
	}
}

func wantRefused(t *testing.T, th *auth.Throttle, account, addr string, wait time.Duration, msg string) {
	t.Helper()
	got, err := th.Allow(context.Background(), account, addr)
	if glossa.ErrorCode(err) != glossa.ETOOMANY {
		t.Fatalf("Allow(%q, %q) error = %v, want ETOOMANY", account, addr, err)
	}
	if got != wait {
		t.Errorf("Allow(%q, %q) retryAfter = %v, want %v", account, addr, got, wait)
	}
	if glossa.ErrorMessage(err) != msg {
		t.Errorf("Allow message = %q, want %q", glossa.ErrorMessage(err), msg)
	}
}

const msg15 = "Too many failed sign-in attempts. Wait 15 minutes and try again, or reset your password."

func TestThrottlePerAccount(t *testing.T) {
	th, _, _ := newThrottle()
	mustFail(t, th, "alice@example.com", "192.0.2.1", 4)
	wantAllowed(t, th, "alice@example.com", "192.0.2.1")
	mustFail(t, th, "alice@example.com", "192.0.2.1", 1)
	wantRefused(t, th, "alice@example.com", "192.0.2.1", 15*time.Minute, msg15)
	// From any address: the account itself is locked.
	wantRefused(t, th, "alice@example.com", "198.51.100.7", 15*time.Minute, msg15)
	// Other accounts are unaffected.
	wantAllowed(t, th, "bob@example.com", "192.0.2.1")
}

func TestThrottleAccountNormalized(t *testing.T) {
	th, store, _ := newThrottle()
	mustFail(t, th, "Alice@Example.com", "", 2)
	mustFail(t, th, "  alice@example.COM ", "", 3)
	if n := store.count("acct:alice@example.com"); n != 5 {
		t.Errorf("failures under acct:alice@example.com = %d, want 5", n)
	}
	wantRefused(t, th, "ALICE@example.com", "", 15*time.Minute, msg15)
}

func TestThrottleWindow(t *testing.T) {
	th, _, c := newThrottle()
	mustFail(t, th, "alice@example.com", "", 5)
	c.Advance(15*time.Minute - time.Second)
	wantRefused(t, th, "alice@example.com", "", 15*time.Minute, msg15)
	c.Advance(time.Second) // exactly one window later: still counted (at or after since)
	wantRefused(t, th, "alice@example.com", "", 15*time.Minute, msg15)
	c.Advance(time.Nanosecond)
	wantAllowed(t, th, "alice@example.com", "")
}

func TestThrottlePerAddress(t *testing.T) {
	th, _, _ := newThrottle()
	for i := range 50 {
		mustFail(t, th, fmt.Sprintf("user%d@example.com", i), "192.0.2.1", 1)
	}
	wantRefused(t, th, "fresh@example.com", "192.0.2.1", 15*time.Minute, msg15)
	wantRefused(t, th, "fresh@example.com", "::ffff:192.0.2.1", 15*time.Minute, msg15)
	wantAllowed(t, th, "fresh@example.com", "192.0.2.2")
	wantAllowed(t, th, "fresh@example.com", "")
}

func TestThrottleIPv6Per64(t *testing.T) {
	th := &auth.Throttle{Store: newMemThrottle(), PerAddress: 3}
	mustFail(t, th, "a@example.com", "2001:db8:1:2::1", 1)
	mustFail(t, th, "b@example.com", "2001:db8:1:2:ffff:ffff:ffff:ffff", 1)
	mustFail(t, th, "c@example.com", "2001:db8:1:2::abcd%eth0", 1)
	wantRefused(t, th, "d@example.com", "2001:db8:1:2::99", 15*time.Minute, msg15)
	wantAllowed(t, th, "d@example.com", "2001:db8:1:3::1")
}

func TestAddressKey(t *testing.T) {
	tests := []struct{ addr, want string }{
		{"192.0.2.1", "addr:192.0.2.1"},
		{"::ffff:192.0.2.1", "addr:192.0.2.1"},
		{"2001:db8:1:2:3:4:5:6", "addr:2001:db8:1:2::"},
		{"fe80::1%eth0", "addr:fe80::"},
		{" 192.0.2.1 ", "addr:192.0.2.1"},
		{"not-an-ip", "addr:not-an-ip"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := auth.AddressKey(tt.addr); got != tt.want {
			t.Errorf("AddressKey(%q) = %q, want %q", tt.addr, got, tt.want)
		}
	}
	if got := auth.AccountKey(" Bob@Example.com "); got != "acct:bob@example.com" {
		t.Errorf("AccountKey = %q, want acct:bob@example.com", got)
	}
	if got := auth.AccountKey("  "); got != "" {
		t.Errorf("AccountKey(blank) = %q, want empty", got)
	}
}

func TestThrottleSucceeded(t *testing.T) {
	th, store, _ := newThrottle()
	mustFail(t, th, "alice@example.com", "192.0.2.1", 5)
	wantRefused(t, th, "alice@example.com", "192.0.2.1", 15*time.Minute, msg15)
	if err := th.Succeeded(context.Background(), "Alice@example.com"); err != nil {
		t.Fatalf("Succeeded: %v", err)
	}
	wantAllowed(t, th, "alice@example.com", "192.0.2.1")
	if n := store.count("addr:192.0.2.1"); n != 5 {
		t.Errorf("address failures after success = %d, want 5 (left alone)", n)
	}
}

func TestThrottleEmptyKeysNotRecorded(t *testing.T) {
	th, store, _ := newThrottle()
	mustFail(t, th, "", "", 3)
	mustFail(t, th, " ", "192.0.2.1", 1)
	if len(store.failures) != 1 || store.count("addr:192.0.2.1") != 1 {
		t.Errorf("stored keys = %v, want only addr:192.0.2.1 with 1 failure", store.failures)
	}
	if err := th.Succeeded(context.Background(), ""); err != nil {
		t.Errorf("Succeeded(\"\") = %v", err)
	}
}

func TestThrottleCustomLimits(t *testing.T) {
	th, _, _ := newThrottle()
	th.PerAccount, th.Window = 2, 30*time.Second
	mustFail(t, th, "alice@example.com", "", 2)
	wantRefused(t, th, "alice@example.com", "", 30*time.Second,
		"Too many failed sign-in attempts. Wait 1 minute and try again, or reset your password.")
	th.Window = 61 * time.Minute
	wantRefused(t, th, "alice@example.com", "", 61*time.Minute,
		"Too many failed sign-in attempts. Wait 61 minutes and try again, or reset your password.")
}

func TestThrottleStoreError(t *testing.T) {
	th, store, _ := newThrottle()
	store.err = errors.New("database is closed")
	ctx := context.Background()
	if _, err := th.Allow(ctx, "alice@example.com", "192.0.2.1"); err == nil || glossa.ErrorCode(err) != glossa.EINTERNAL {
		t.Errorf("Allow with a failing store = %v, want an internal error", err)
	}
	if err := th.Failed(ctx, "alice@example.com", "192.0.2.1"); !errors.Is(err, store.err) {
		t.Errorf("Failed with a failing store = %v, want it to wrap the store's error", err)
	}
	if err := th.Succeeded(ctx, "alice@example.com"); !errors.Is(err, store.err) {
		t.Errorf("Succeeded with a failing store = %v, want it to wrap the store's error", err)
	}
}
