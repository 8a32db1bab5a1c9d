// Package gssapi implements the SASL GSSAPI mechanism (RFC 4752) with
// Kerberos V5 (RFC 4121) on top of github.com/jcmturner/gokrb5/v8, and adds
// it to an authmech.Registry with Register. It is a separate package so that
// programs that do not use Kerberos do not link gokrb5.
//
// The exchange: the client gets a service ticket for smtp/<server name> (or
// Credentials.Kerberos.SPN), sends an AP-REQ asking for mutual
// authentication, checks the server's AP-REP (decrypts it with the session
// key, compares the authenticator time) and takes its subkey, then unwraps
// the server's 4-byte security-layer offer, checks its checksum, and answers
// with a wrapped reply choosing no security layer plus the authorization
// identity. Verify fails unless all of that happened.
//
// Credentials come from, in this order: Kerberos.Keytab (with Username as the
// principal), Password, Kerberos.CCache, or the cache named by KRB5CCNAME
// ("authenticate as the account the service runs as").
//
// KDC traffic: gokrb5 takes neither a context nor a dialer. Start runs the
// KDC exchanges in a goroutine and returns when ctx is done; the goroutine
// then finishes on its own, bounded by gokrb5's per-KDC dial and read
// timeouts. gokrb5 dials the KDCs from krb5.conf directly, so KDC traffic
// never goes through the SOCKS or HTTP proxy the SMTP connection uses: the
// KDC must be reachable directly from the host.
//
// Out of scope: integrity and confidentiality security layers (only "none"
// is chosen), delegation, and sealed (encrypted) wrap tokens from the server.
package gssapi
