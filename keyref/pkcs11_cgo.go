//go:build cgo

package keyref

import (
	"crypto"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"
)

// tokenCtx is one logged-in crypto11 context: one C_Login, a pool of
// sessions shared by every key opened on the token.
type tokenCtx struct {
	c      *crypto11.Context
	module string
	slot   string // how the URI selected the token, e.g. "token=corp"
	// slotID, label and serial describe the token found (see describe).
	slotID        *uint
	label, serial string
	pinTag        string // the keyed hash of the PIN it logged in with
}

func (t *tokenCtx) close() error { return t.c.Close() }

const hintModule = "set --pkcs11-module, the profile's pkcs11.module or MAILWARDEN_PKCS11_MODULE to the token's PKCS#11 library (e.g. /usr/lib/softhsm/libsofthsm2.so)"

// tokenSelector is the one way crypto11 picks a token: serial, label or
// slot, in that order of preference, and a string naming it.
func tokenSelector(u *PKCS11URI, cfg *crypto11.Config) string {
	switch {
	case u.Serial != "":
		cfg.TokenSerial = u.Serial
		return "serial=" + u.Serial
	case u.Token != "":
		cfg.TokenLabel = u.Token
		return "token=" + u.Token
	default:
		n := u.SlotID
		cfg.SlotNumber = &n
		return "slot=" + strconv.Itoa(n)
	}
}

func (p *Pool) context(ref string, u *PKCS11URI, opt Options) (*tokenCtx, error) {
	module := opt.Module
	if module == "" {
		module = u.ModulePath
	}
	if module == "" {
		return nil, newErr(ref, ErrModule, hintModule, errors.New("no module given"))
	}
	if _, err := os.Stat(module); err != nil {
		return nil, newErr(ref, ErrModule, hintModule, fmt.Errorf("module %s: %w", module, err))
	}
	cfg := &crypto11.Config{Path: module, Pin: opt.PIN, MaxSessions: 16, PoolWaitTimeout: time.Minute}
	sel := tokenSelector(u, cfg)
	key := module + "\x00" + sel

	p.mu.Lock()
	defer p.mu.Unlock()
	tag := p.pinTag(key, opt.PIN)
	if c, ok := p.ctxs[key]; ok {
		if c.pinTag != tag {
			// The token is logged in already, so it cannot judge this PIN
			// (C_Login would answer "already logged in"): refuse it rather
			// than let a wrong PIN pass unnoticed.
			return nil, newErr(ref, ErrPIN, "this process is logged in to the token with a different PIN: use one PIN per token", nil)
		}
		return c, nil
	}
	if opt.PIN == "" {
		return nil, newErr(ref, ErrNoPIN, "give the PIN through ?pin-source=file:/path, --pkcs11-pin-file or the profile's pkcs11.pin", nil)
	}
	if p.badPIN[tag] {
		return nil, newErr(ref, ErrPIN, "this PIN was already rejected by the token and is not tried again (cards lock after a few failures): correct the PIN source", nil)
	}
	c, err := crypto11.Configure(cfg)
	if err != nil {
		var pe pkcs11.Error
		switch {
		case errors.As(err, &pe) && pe == pkcs11.CKR_PIN_INCORRECT, errors.As(err, &pe) && pe == pkcs11.CKR_PIN_LEN_RANGE:
			p.badPIN[tag] = true
			return nil, newErr(ref, ErrPIN, "the token rejected the PIN; it will not be retried: correct the PIN source before the next attempt (cards lock after a few failures)", nil)
		case errors.As(err, &pe) && pe == pkcs11.CKR_PIN_LOCKED:
			p.badPIN[tag] = true
			return nil, newErr(ref, ErrPINLocked, "the token's user PIN is locked: unlock it with the SO PIN", nil)
		case err.Error() == "could not find PKCS#11 token":
			return nil, newErr(ref, ErrToken, "is the token inserted? list tokens with pkcs11-tool --module MODULE --list-slots", fmt.Errorf("no token with %s", sel))
		case errors.As(err, &pe) && (pe == pkcs11.CKR_TOKEN_NOT_PRESENT || pe == pkcs11.CKR_DEVICE_REMOVED):
			return nil, newErr(ref, ErrToken, "is the token inserted?", err)
		}
		return nil, newErr(ref, ErrModule, hintModule, err)
	}
	t := &tokenCtx{c: c, module: module, slot: sel, pinTag: tag}
	t.describe(u)
	p.ctxs[key] = t
	return t, nil
}

// describe finds the slot number, label and serial of the token crypto11
// chose, for Location. crypto11 keeps them to itself, so this asks the
// module (already initialised by crypto11: the second C_Initialize is
// refused with CKR_CRYPTOKI_ALREADY_INITIALIZED and nothing is finalised).
func (t *tokenCtx) describe(u *PKCS11URI) {
	m := pkcs11.New(t.module)
	if m == nil {
		return
	}
	defer m.Destroy()
	_ = m.Initialize()
	slots, err := m.GetSlotList(true)
	if err != nil {
		return
	}
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if (u.Serial != "" && ti.SerialNumber == u.Serial) || (u.Serial == "" && u.Token != "" && ti.Label == u.Token) ||
			(u.Serial == "" && u.Token == "" && uint(u.SlotID) == s) {
			sl := s
			t.slotID, t.label, t.serial = &sl, ti.Label, ti.SerialNumber
			return
		}
	}
}

// drop forgets a context whose token went away, so that the next Open
// logs in again (once) instead of reusing dead sessions.
func (p *Pool) drop(t *tokenCtx) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, c := range p.ctxs {
		if c == t {
			delete(p.ctxs, k)
			_ = c.close()
		}
	}
}

func (p *Pool) openPKCS11(ref string, u *PKCS11URI, opt Options, wantKey bool) (*Key, error) {
	t, err := p.context(ref, u, opt)
	if err != nil {
		return nil, err
	}
	var label []byte
	if u.Object != "" {
		label = []byte(u.Object)
	}
	loc := Location{Kind: "pkcs11", Module: t.module, Token: t.label, Serial: t.serial, Slot: t.slotID, Object: u.Object}
	if loc.Token == "" {
		loc.Token = u.Token
	}
	if u.ID != nil {
		loc.ID = hex.EncodeToString(u.ID)
	}
	k := &Key{Location: loc}
	var raw crypto11.Signer
	if wantKey && u.Type != "cert" {
		found, err := t.c.FindKeyPairs(u.ID, label)
		if err != nil {
			return nil, p.opErr(ref, t, err)
		}
		switch len(found) {
		case 0:
			return nil, newErr(ref, ErrNotFound, "no private key (with its public key or certificate) under this object label/id on the token: list them with pkcs11-tool --module MODULE --login --list-objects", nil)
		case 1:
		default:
			return nil, newErr(ref, ErrNotFound, "the reference matches several keys: add id= or a more specific object=", fmt.Errorf("%d keys match", len(found)))
		}
		s := found[0]
		raw = s
		k.Signer = &tokenSigner{s: s, pool: p, t: t}
		if _, ok := s.Public().(*rsa.PublicKey); ok {
			k.Signer = &tokenRSA{tokenSigner{s: s, pool: p, t: t}}
		}
	}
	cert, err := t.c.FindCertificate(u.ID, label, nil)
	if err != nil {
		return nil, p.opErr(ref, t, err)
	}
	if cert == nil && u.ID == nil && raw != nil {
		// No certificate under the key's label: try the key's CKA_ID,
		// which pkcs11-tool and most enrolment tools give both objects.
		if a, aerr := t.c.GetAttribute(raw, crypto11.CkaId); aerr == nil && a != nil && len(a.Value) > 0 {
			cert, _ = t.c.FindCertificate(a.Value, nil, nil)
		}
	}
	k.Cert = cert
	return k, nil
}

// opErr classifies an error from an operation on an open context.
func (p *Pool) opErr(ref string, t *tokenCtx, err error) error {
	var pe pkcs11.Error
	if errors.As(err, &pe) {
		switch pe {
		case pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_REMOVED, pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_USER_NOT_LOGGED_IN:
			p.drop(t)
			return newErr(ref, ErrToken, "the token was removed or its session ended: insert it again; the next attempt logs in once more", err)
		}
	}
	return &Error{Ref: ref, Err: err}
}

// tokenSigner wraps a crypto11 key so that a removed token turns into a
// typed error and drops the dead context.
type tokenSigner struct {
	s    crypto11.Signer
	pool *Pool
	t    *tokenCtx
}

func (k *tokenSigner) Public() crypto.PublicKey { return k.s.Public() }

// Sign signs digest on the token (the message is hashed by the caller).
func (k *tokenSigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.s.Sign(rand, digest, opts)
	if err != nil {
		return nil, k.pool.opErr("pkcs11:"+k.t.slot, k.t, err)
	}
	return sig, nil
}

// tokenRSA is a token RSA key: a crypto.Signer and a crypto.Decrypter.
type tokenRSA struct{ tokenSigner }

func (k *tokenRSA) Decrypt(rand io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	d, ok := k.s.(crypto.Decrypter)
	if !ok {
		return nil, errors.New("keyref: token key cannot decrypt")
	}
	pt, err := d.Decrypt(rand, msg, opts)
	if err != nil {
		return nil, k.pool.opErr("pkcs11:"+k.t.slot, k.t, err)
	}
	return pt, nil
}

var (
	_ crypto.Signer    = (*tokenSigner)(nil)
	_ crypto.Decrypter = (*tokenRSA)(nil)
)
