package auth

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	glossa "github.com/glossa-dev/glossa"
)

// ThrottleStore is where Throttle keeps failure counts: the store's
// glossa.ThrottleService, shared by every Glossa process.
type ThrottleStore interface {
	RecordSignInFailure(ctx context.Context, key string, at time.Time) error
	CountSignInFailures(ctx context.Context, key string, since time.Time) (int, error)
	ClearSignInFailures(ctx context.Context, key string) error
}

// Throttle defaults, used for zero fields.
const (
	// DefaultPerAccount is how many failures lock an account key.
	DefaultPerAccount = 5
	// DefaultPerAddress is how many failures lock an address key: higher,
	// because many people can share one address (an office NAT).
	DefaultPerAddress = 50
	// DefaultThrottleWindow is how far back failures count.
	DefaultThrottleWindow = 15 * time.Minute
)

// Throttle limits failed sign-ins, per account (against guessing one
// person's password) and per client address (against trying one password
// on many accounts). Zero fields take the defaults. Use it as:
//
//	if _, err := t.Allow(ctx, email, ip); err != nil { return err } // before checking the password
//	... on a wrong password or an unknown email: t.Failed(ctx, email, ip)
//	... on success: t.Succeeded(ctx, email)
//
// The account key is the email as typed (trimmed, lower-cased), whether or
// not an account has it, so a refusal reveals nothing about which accounts
// exist. IPv6 addresses count per /64, the block one client usually holds.
//
// Security-sensitive: this is the brake on password guessing.
type Throttle struct {
	Store ThrottleStore
	// PerAccount failures within Window lock the account key (default 5).
	PerAccount int
	// PerAddress failures within Window lock the address key (default 50).
	PerAddress int
	// Window is how far back failures count (default 15 minutes).
	Window time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (t *Throttle) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

func (t *Throttle) window() time.Duration {
	if t.Window > 0 {
		return t.Window
	}
	return DefaultThrottleWindow
}

func orDefault(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// AccountKey returns the store key Throttle counts an account's failures
// under: "acct:" and the account trimmed and lower-cased, so that case
// variants of one email share a count; "" for a blank account. Operators and
// tests use it to find and clear a lock.
func AccountKey(account string) string {
	account = strings.ToLower(strings.TrimSpace(account))
	if account == "" {
		return ""
	}
	return "acct:" + account
}

// AddressKey returns the store key Throttle counts a client address's
// failures under: "addr:" and the IP address, an IPv6 address reduced to its
// /64 (one client usually holds a whole /64, so counting single addresses
// would give it 2^64 tries) and an IPv4-mapped one to plain IPv4. A value
// that is not an IP address is used as given; "" gives "".
func AddressKey(addr string) string {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return ""
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		ip = ip.Unmap().WithZone("")
		if ip.Is6() {
			ip = netip.PrefixFrom(ip, 64).Masked().Addr()
		}
		addr = ip.String()
	}
	return "addr:" + addr
}

// Allow reports whether a sign-in for account from addr may be attempted
// now. When either key has reached its limit of failures within the window,
// it returns a glossa ETOOMANY error and how long to wait. Call it before
// checking the password, so a locked account costs no hashing. An empty
// account or addr is not counted.
//
// The wait is the whole window: the store counts failures but does not say
// when the oldest leaves the window, and over-stating the wait is the safe
// side. Refused attempts are not recorded as failures, so the lock ends one
// window after the last real failure.
func (t *Throttle) Allow(ctx context.Context, account, addr string) (retryAfter time.Duration, err error) {
	since := t.now().Add(-t.window())
	for _, k := range []struct {
		key   string
		limit int
	}{
		{AccountKey(account), orDefault(t.PerAccount, DefaultPerAccount)},
		{AddressKey(addr), orDefault(t.PerAddress, DefaultPerAddress)},
	} {
		if k.key == "" {
			continue
		}
		n, err := t.Store.CountSignInFailures(ctx, k.key, since)
		if err != nil {
			return 0, fmt.Errorf("auth: counting sign-in failures: %w", err)
		}
		if n >= k.limit {
			wait := t.window()
			return wait, glossa.Errorf(glossa.ETOOMANY,
				"Too many failed sign-in attempts. Wait %s and try again, or reset your password.", minutes(wait))
		}
	}
	return 0, nil
}

// minutes renders a wait as whole minutes, rounded up.
func minutes(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	if m <= 1 {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", m)
}

// Failed records a failed sign-in (wrong password, unknown email, SSO-only
// account) against both the account and the address.
func (t *Throttle) Failed(ctx context.Context, account, addr string) error {
	now := t.now()
	for _, key := range []string{AccountKey(account), AddressKey(addr)} {
		if key == "" {
			continue
		}
		if err := t.Store.RecordSignInFailure(ctx, key, now); err != nil {
			return fmt.Errorf("auth: recording a sign-in failure: %w", err)
		}
	}
	return nil
}

// Succeeded clears the account's failures after a successful sign-in. The
// address count is left alone: otherwise an attacker could reset it by
// signing in to an account of their own between guesses.
func (t *Throttle) Succeeded(ctx context.Context, account string) error {
	key := AccountKey(account)
	if key == "" {
		return nil
	}
	if err := t.Store.ClearSignInFailures(ctx, key); err != nil {
		return fmt.Errorf("auth: clearing sign-in failures: %w", err)
	}
	return nil
}
