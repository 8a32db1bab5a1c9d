package envelope

import (
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"mime"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"mailwarden/headers"
	"mailwarden/internal/fold"
	"mailwarden/internal/msgenv"
)

// A Message is an e-mail message to be written by WriteTo. The zero value is
// not a valid message: From and at least one of To, Cc or Bcc are required.
// A Message is only read by its methods, never modified, so one value may be
// written many times (Attachments' readers are consumed, though).
//
// Addresses may be built by hand or with headers.ParseAddressList; they are
// canonicalized (see headers.Address.Canonical) when the message is
// validated.
type Message struct {
	// From is the author (RFC 5322 From). Required.
	From headers.Address
	// Sender is the mailbox that actually sends on behalf of From, for
	// example a service account. Written only when set and different from
	// From. When set it is also the SMTP reverse-path (see Envelope).
	Sender headers.Address
	// ReplyTo is where replies should go.
	ReplyTo []headers.Address
	// Organization is the sender's organization, shown by Outlook and
	// Thunderbird (RFC 2076 / RFC 1036 Organization field).
	Organization string
	// To, Cc and Bcc are the recipients. Bcc recipients are only in the
	// SMTP envelope, never in a header field, unless BccHeader is set.
	To, Cc, Bcc []headers.Address
	// BccHeader writes Bcc as a Bcc header field. Leave it off for SMTP,
	// where every recipient would see the field. It is for submission
	// interfaces that take the recipients from the header and remove Bcc
	// before delivery, such as Microsoft Graph sendMail.
	BccHeader bool
	// Subject is plain UTF-8 text; leading and trailing white space is
	// removed and it is RFC 2047-encoded as needed.
	Subject string
	// MaxSubjectLength, when positive, cuts Subject to that many characters
	// (runes) before it is encoded.
	MaxSubjectLength int
	// Date is the origination date; zero means Clock() at write time.
	Date time.Time
	// MessageID is the Message-ID without angle brackets, e.g.
	// "abc123@example.com". Empty means a new random one at the From domain
	// on every WriteTo; call NewMessageID first to know it in advance (for
	// an audit record, or to keep it across retries).
	MessageID string
	// Text is the plain-text body, HTML the HTML body; either, both (sent as
	// multipart/alternative) or neither may be set. They must be valid
	// UTF-8; line breaks are sent as CRLF.
	Text, HTML string
	// Attachments are written in order. One with a ContentID is an inline
	// part that the HTML body refers to as "cid:ContentID".
	Attachments []Attachment
	// Priority, Importance and Sensitivity write the fields Outlook,
	// Exchange and Thunderbird display (see headers.PriorityFields). The
	// zero values write nothing.
	Priority    headers.Priority
	Importance  headers.Importance
	Sensitivity headers.Sensitivity
	// ReadReceiptTo asks for a read receipt (RFC 8098
	// Disposition-Notification-To).
	ReadReceiptTo []headers.Address
	// ReturnReceiptTo asks for a delivery receipt (Return-Receipt-To, as
	// Exchange and sendmail understand it).
	ReturnReceiptTo []headers.Address
	// Header holds extra header fields, written in order after the fields
	// the builder owns. A field the builder owns (From, Sender, Reply-To,
	// To, Cc, Bcc, Subject, Date, Message-ID, Organization, MIME-Version,
	// Content-*, Priority, X-Priority, Importance, Sensitivity,
	// Disposition-Notification-To, Return-Receipt-To) is refused with an
	// error wrapping ErrOwnedField. Values are unstructured text: leading
	// and trailing white space is removed, non-ASCII values are
	// RFC 2047-encoded.
	Header []headers.Field

	// Clock returns the current time for Date; nil means time.Now.
	Clock func() time.Time
	// Rand is the source of Message-ID and MIME boundary randomness; nil
	// means crypto/rand.Reader.
	Rand io.Reader
	// Wrap, when set, receives the body: WriteTo writes the top-level header
	// fields (everything but Content-*) to dst, calls Wrap(dst), writes the
	// inner MIME entity (Content-* fields, blank line, body) into the
	// returned WriteCloser and closes it. S/MIME signing and encryption plug
	// in here.
	Wrap func(dst io.Writer) (io.WriteCloser, error)
}

// An Attachment is a file attached to the message, or an inline part when
// ContentID is set. Body is read once, in blocks, while the message is
// written; closing it is the caller's business.
type Attachment struct {
	// Filename is the name shown to the recipient, without a directory.
	// Optional for inline parts.
	Filename string
	// ContentType is the MIME type, e.g. "application/pdf"; empty means the
	// type registered for the Filename extension, or
	// application/octet-stream.
	ContentType string
	// ContentID, when set, makes this an inline part (Content-ID
	// RFC 2392) placed with the HTML body in multipart/related. It is given
	// without angle brackets, e.g. "logo@example.com".
	ContentID string
	// Body is the content. Required.
	Body io.Reader
}

// Errors. Every error from this package is an *Error wrapping one of these
// or an error from package headers.
var (
	// ErrOwnedField reports a custom header field the builder writes itself.
	ErrOwnedField = errors.New("envelope: header field is set by the builder")
	// ErrMissing reports a required part of the message that is absent.
	ErrMissing = errors.New("envelope: required value missing")
	// ErrInvalid reports a value that cannot be used.
	ErrInvalid = errors.New("envelope: invalid value")
)

// An Error reports which part of a Message is wrong. Field names the
// Message field, e.g. "To", "Header[2]" or "Attachments[0].Filename".
type Error struct {
	Field string
	Err   error
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	msg = strings.TrimPrefix(msg, "envelope: ")
	msg = strings.TrimPrefix(msg, "headers: ")
	return "envelope: " + e.Field + ": " + msg
}

func (e *Error) Unwrap() error { return e.Err }

func fieldErr(field string, err error) error { return &Error{Field: field, Err: err} }

func invalid(field, format string, args ...any) error {
	return &Error{Field: field, Err: fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, args...)...)}
}

// owned lists the fields the builder writes (lower case); Content-* is
// checked by prefix.
var owned = map[string]string{
	"from": "From", "sender": "Sender", "reply-to": "ReplyTo", "to": "To",
	"cc": "Cc", "bcc": "Bcc", "subject": "Subject", "date": "Date",
	"message-id": "MessageID", "organization": "Organization",
	"mime-version": "", "priority": "Priority", "x-priority": "Priority or Importance",
	"importance": "Importance", "sensitivity": "Sensitivity",
	"disposition-notification-to": "ReadReceiptTo", "return-receipt-to": "ReturnReceiptTo",
}

// IsOwnedField reports whether the builder writes the header field name
// itself, so that Message.Header may not contain it (compared
// case-insensitively; every Content-* field is owned).
func IsOwnedField(name string) bool {
	_, ok := ownedField(name)
	return ok
}

// ownedField reports whether the builder writes the field name (compared
// case-insensitively) and, if so, the Message field to use instead ("" for
// MIME-Version and Content-*).
func ownedField(name string) (use string, ok bool) {
	if !isASCII(name) {
		lower := strings.ToLower(name)
		use, ok = owned[lower]
		return use, ok || strings.HasPrefix(lower, "content-")
	}
	// ASCII: compared without building the lower-case copy.
	if len(name) >= 8 && strings.EqualFold(name[:8], "content-") {
		return "", true
	}
	for _, k := range ownedNames {
		if len(k) == len(name) && strings.EqualFold(k, name) {
			return owned[k], true
		}
	}
	return "", false
}

// ownedNames are the keys of owned.
var ownedNames = func() []string {
	var names []string
	for k := range owned {
		names = append(names, k)
	}
	return names
}()

// prepared is a validated Message: canonical addresses and the top-level
// header fields in wire form.
type prepared struct {
	m *Message
	// head is the top-level header fields, folded and ready to write, in a
	// buffer from heads; release gives it back.
	head     *[]byte
	smtputf8 bool
	from     headers.Address
	sender   headers.Address
	rcpts    []string
	lists    addressLists
	// text is the body when it is a single text part (see bodyTree).
	text entity
}

// heads holds the buffers prepared header fields are written to, so a
// stream of messages reuses a few instead of allocating each time.
var heads = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// release gives p's header buffer back to the pool; p is unusable after.
func (p *prepared) release() {
	if p.head != nil {
		putHead(p.head)
	}
	p.head = nil
}

// putHead gives b back to heads, unless it grew large.
func putHead(b *[]byte) {
	if cap(*b) <= 64<<10 {
		*b = (*b)[:0]
		heads.Put(b)
	}
}

// Validate reports the first problem that would make WriteTo or Envelope
// fail, without reading any attachment. The error is an *Error.
func (m *Message) Validate() error {
	var p prepared
	if err := m.prepare(&p, false); err != nil {
		return err
	}
	p.release()
	return nil
}

// Envelope returns what the SMTP transaction needs: the reverse-path (Sender
// when set, else From), every recipient (To, Cc, then Bcc, without
// duplicates), and whether the SMTPUTF8 extension is required because an
// address has a UTF-8 local part. The error is an *Error.
func (m *Message) Envelope() (from string, rcpts []string, smtputf8 bool, err error) {
	var p prepared
	if err := m.prepare(&p, false); err != nil {
		return "", nil, false, err
	}
	p.release()
	e := p.envelope()
	return e.From, e.To, e.SMTPUTF8, nil
}

// envelope is p's SMTP envelope (see Envelope).
func (p *prepared) envelope() msgenv.Envelope {
	from := p.from.Addr
	if p.sender.Addr != "" {
		from = p.sender.Addr
	}
	return msgenv.Envelope{From: from, To: p.rcpts, SMTPUTF8: p.smtputf8}
}

// NewMessageID returns a new random Message-ID (without angle brackets) at
// domain, such as "k7x2...q4@example.com", reading 16 bytes from rand
// (crypto/rand.Reader when nil).
func NewMessageID(domain string, rand io.Reader) (string, error) {
	var b [16]byte
	var enc [26]byte // token32's length for 16 bytes
	if rand == nil {
		takeRandom(b[:])
	} else {
		rb := make([]byte, len(b)) // given to an unknown reader
		if err := readRandom(rand, rb); err != nil {
			return "", err
		}
		copy(b[:], rb)
	}
	token32.Encode(enc[:], b[:])
	clear(b[:])
	return string(enc[:]) + "@" + domain, nil
}

// randomBlock hands out crypto/rand bytes read a block at a time, for
// Message-IDs: one read per 256 IDs rather than one each. Bytes handed
// out are cleared from the block.
var randomBlock struct {
	sync.Mutex
	buf [4096]byte
	off int // buf[off:] not handed out yet
}

func init() { randomBlock.off = len(randomBlock.buf) }

// takeRandom fills b (at most 4096 bytes) from randomBlock.
func takeRandom(b []byte) {
	r := &randomBlock
	r.Lock()
	defer r.Unlock()
	if r.off+len(b) > len(r.buf) {
		rand.Read(r.buf[:]) // never fails (it crashes the program instead)
		r.off = 0
	}
	copy(b, r.buf[r.off:])
	clear(r.buf[r.off : r.off+len(b)])
	r.off += len(b)
}

var token32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// readRandom fills b from r, crypto/rand when nil.
func readRandom(r io.Reader, b []byte) error {
	var err error
	if r == nil {
		_, err = rand.Read(b)
	} else {
		_, err = io.ReadFull(r, b)
	}
	if err != nil {
		return fmt.Errorf("envelope: reading randomness: %w", err)
	}
	return nil
}

func randomToken(r io.Reader, n int) (string, error) {
	b := make([]byte, n)
	if err := readRandom(r, b); err != nil {
		return "", err
	}
	return token32.EncodeToString(b), nil
}

// addressLists are a message's address fields in canonical form (the
// Message's own slices when they are canonical already).
type addressLists struct {
	replyTo, to, cc, bcc, dnt, rrt []headers.Address
}

// prepare checks m and builds its top-level header into p. With forWrite it
// draws the Date and Message-ID it leaves empty from the clock and
// randomness, which happens only once everything is valid.
func (m *Message) prepare(p *prepared, forWrite bool) error {
	p.m = m
	if err := p.addresses(); err != nil {
		return err
	}
	subject, org, err := m.texts()
	if err != nil {
		return err
	}
	prio, err := headers.PriorityFields(m.Priority, m.Importance, m.Sensitivity)
	if err != nil {
		return fieldErr("Priority", err)
	}
	custom, err := m.customFields()
	if err != nil {
		return err
	}
	if err := m.checkBody(); err != nil {
		return err
	}
	msgID := strings.TrimSuffix(strings.TrimPrefix(m.MessageID, "<"), ">")
	if msgID != "" {
		if err := checkID(msgID, true); err != nil {
			return fieldErr("MessageID", err)
		}
	}
	// Everything is valid. Only now draw on the clock and randomness.
	date := m.Date
	if forWrite {
		if date.IsZero() {
			if m.Clock != nil {
				date = m.Clock()
			} else {
				date = time.Now()
			}
		}
		if msgID == "" {
			if msgID, err = NewMessageID(p.from.Domain(), m.Rand); err != nil {
				return err
			}
		}
	}
	// Writing the fields checks that every one can be written, so WriteTo
	// fails before writing anything.
	if err := p.header(date, subject, msgID, org, prio, custom); err != nil {
		p.release()
		return err
	}
	return nil
}

// canonList returns the list in canonical form: the list itself while
// every address is canonical already (the usual case), a copy from the
// first one that is not.
func (p *prepared) canonList(field string, in []headers.Address) ([]headers.Address, error) {
	out, copied := in, false
	for i, a := range in {
		c, err := p.canon(field, a)
		if err != nil {
			return nil, err
		}
		switch {
		case copied:
			out = append(out, c)
		case c != a:
			out = append(append(make([]headers.Address, 0, len(in)), in[:i]...), c)
			copied = true
		}
	}
	return out, nil
}

// canon returns a in canonical form; an address that needs SMTPUTF8 marks
// the message.
func (p *prepared) canon(field string, a headers.Address) (headers.Address, error) {
	c, err := a.Canonical()
	if err != nil {
		return c, fieldErr(field, err)
	}
	if c.SMTPUTF8() {
		p.smtputf8 = true
	}
	return c, nil
}

// addresses checks the address fields and sets the envelope: From, Sender
// and the recipients (To, Cc and Bcc, each address once).
func (p *prepared) addresses() error {
	m := p.m
	if m.From.Addr == "" {
		return fieldErr("From", fmt.Errorf("%w: a From address is required", ErrMissing))
	}
	var err error
	if p.from, err = p.canon("From", m.From); err != nil {
		return err
	}
	if m.Sender.Addr != "" || m.Sender.Name != "" {
		if p.sender, err = p.canon("Sender", m.Sender); err != nil {
			return err
		}
	}
	l := &p.lists
	// One call per list (not a loop over pointers to them), so that p can
	// stay on its caller's stack.
	if l.replyTo, err = p.canonList("ReplyTo", m.ReplyTo); err != nil {
		return err
	}
	if l.to, err = p.canonList("To", m.To); err != nil {
		return err
	}
	if l.cc, err = p.canonList("Cc", m.Cc); err != nil {
		return err
	}
	if l.bcc, err = p.canonList("Bcc", m.Bcc); err != nil {
		return err
	}
	if l.dnt, err = p.canonList("ReadReceiptTo", m.ReadReceiptTo); err != nil {
		return err
	}
	if l.rrt, err = p.canonList("ReturnReceiptTo", m.ReturnReceiptTo); err != nil {
		return err
	}
	n := len(l.to) + len(l.cc) + len(l.bcc)
	if n == 0 {
		return fieldErr("To", fmt.Errorf("%w: at least one recipient (To, Cc or Bcc) is required", ErrMissing))
	}
	p.rcpts = make([]string, 0, n)
	seen := map[string]bool{}
	for _, list := range [...][]headers.Address{l.to, l.cc, l.bcc} {
		for _, a := range list {
			if k := strings.ToLower(a.Addr); !seen[k] {
				seen[k] = true
				p.rcpts = append(p.rcpts, a.Addr)
			}
		}
	}
	return nil
}

// texts checks the Subject (cut to MaxSubjectLength) and Organization.
func (m *Message) texts() (subject, org string, err error) {
	subject = strings.TrimSpace(m.Subject)
	if err := headers.CheckText(subject); err != nil {
		return "", "", fieldErr("Subject", err)
	}
	subject = headers.Truncate(subject, m.MaxSubjectLength)
	org = strings.TrimSpace(m.Organization)
	if err := headers.CheckText(org); err != nil {
		return "", "", fieldErr("Organization", err)
	}
	if m.MaxSubjectLength < 0 {
		return "", "", invalid("MaxSubjectLength", "%d is negative", m.MaxSubjectLength)
	}
	return subject, org, nil
}

// customFields checks the caller's own header fields: no field the
// package writes itself, no line breaks; non-ASCII values are encoded.
func (m *Message) customFields() ([]headers.Field, error) {
	// m.Header itself while every value goes as it is (the usual case), a
	// copy from the first one that changes.
	custom, copied := m.Header, false
	for i, f := range m.Header {
		name := func() string { return "Header[" + strconv.Itoa(i) + "]" }
		if err := headers.CheckFieldName(f.Name); err != nil {
			return nil, fieldErr(name(), err)
		}
		if use, ok := ownedField(f.Name); ok {
			hint := "it is set from the message body and attachments"
			if use != "" {
				hint = "use Message." + use
			} else if strings.EqualFold(f.Name, "mime-version") {
				hint = "it is always 1.0"
			}
			return nil, fieldErr(name(), fmt.Errorf("%w: %q (%s)", ErrOwnedField, f.Name, hint))
		}
		v := strings.TrimSpace(f.Value)
		if err := headers.CheckText(v); err != nil {
			return nil, fieldErr(name(), &headers.FieldError{Name: f.Name, Err: err})
		}
		if !isASCII(v) {
			v = headers.EncodeText(v)
		}
		switch {
		case copied:
			custom = append(custom, headers.Field{Name: f.Name, Value: v})
		case v != f.Value:
			custom = append(append(make([]headers.Field, 0, len(m.Header)), m.Header[:i]...), headers.Field{Name: f.Name, Value: v})
			copied = true
		}
	}
	return custom, nil
}

// checkBody checks the text parts and the attachments' header fields,
// without reading any attachment.
func (m *Message) checkBody() error {
	if !utf8.ValidString(m.Text) {
		return invalid("Text", "not valid UTF-8")
	}
	if !utf8.ValidString(m.HTML) {
		return invalid("HTML", "not valid UTF-8")
	}
	for i, a := range m.Attachments {
		if err := checkAttachment(a); err != nil {
			return fieldErr(fmt.Sprintf("Attachments[%d]", i), err)
		}
		for _, f := range attachmentEntity(a).fields {
			if _, err := headers.FormatField(f.Name, f.Value); err != nil || f.Value == "" {
				if err == nil {
					err = fmt.Errorf("%w: cannot format %s", ErrInvalid, f.Name)
				}
				return fieldErr(fmt.Sprintf("Attachments[%d]", i), err)
			}
		}
	}
	return nil
}

// header writes the top-level header fields in their order to p.head;
// the error is the first field that cannot be written.
func (p *prepared) header(date time.Time, subject, msgID, org string, prio, custom []headers.Field) error {
	p.head = heads.Get().(*[]byte)
	l := &p.lists
	var err error
	add := func(name, value string) {
		if err == nil {
			err = p.appendField(name, value)
		}
	}
	addList := func(name string, list []headers.Address) {
		if len(list) == 1 {
			add(name, list[0].String())
		} else if len(list) > 0 {
			add(name, headers.FormatAddressList(list))
		}
	}
	// The date is printable ASCII of about 31 octets: "Date: " and it fit
	// one line, as FormatField would write it.
	*p.head = append(date.AppendFormat(append(*p.head, "Date: "...), time.RFC1123Z), '\r', '\n')
	add("From", p.from.String())
	if p.sender.Addr != "" && !strings.EqualFold(p.sender.Addr, p.from.Addr) {
		add("Sender", p.sender.String())
	}
	addList("Reply-To", l.replyTo)
	addList("To", l.to)
	addList("Cc", l.cc)
	if p.m.BccHeader {
		addList("Bcc", l.bcc)
	}
	add("Subject", headers.EncodeText(subject))
	if err == nil {
		// checkID let through (or NewMessageID made) at most 900 octets of
		// atext, "." and "@": no space to fold at, one line, as
		// FormatField would write it.
		*p.head = append(append(append(*p.head, "Message-ID: <"...), msgID...), '>', '\r', '\n')
	}
	if org != "" {
		add("Organization", headers.EncodeText(org))
	}
	addList("Disposition-Notification-To", l.dnt)
	addList("Return-Receipt-To", l.rrt)
	for _, f := range prio {
		add(f.Name, f.Value)
	}
	for _, f := range custom {
		add(f.Name, f.Value)
	}
	add("MIME-Version", "1.0")
	return err
}

// appendField appends the field to p.head (see appendField).
func (p *prepared) appendField(name, value string) error {
	b, err := appendField(*p.head, name, value)
	*p.head = b
	return err
}

// appendField appends the field to dst as headers.FormatField would write
// it, or returns dst and the error FormatField gives for it.
func appendField(dst []byte, name, value string) ([]byte, error) {
	if headers.CheckFieldName(name) == nil && headers.CheckText(value) == nil {
		if b, _, ok := fold.Append(dst, name, value); ok {
			return b, nil
		}
	}
	_, err := headers.FormatField(name, value)
	if err == nil { // cannot happen: the checks above are FormatField's
		err = fmt.Errorf("%w: cannot format %s", ErrInvalid, name)
	}
	return dst, fieldErr(name, err)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// checkID checks a Message-ID or Content-ID without its angle brackets:
// dot-atom-text characters with, for a Message-ID, exactly one "@"
// (RFC 5322 section 3.6.4 msg-id, without the obsolete and literal forms).
func checkID(id string, needAt bool) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalid)
	}
	if len(id) > 900 {
		return fmt.Errorf("%w: longer than 900 octets", ErrInvalid)
	}
	if err := headers.CheckText(id); err != nil {
		return err
	}
	at := strings.Count(id, "@")
	if (needAt && at != 1) || at > 1 {
		return fmt.Errorf("%w: %q must have the form left@right", ErrInvalid, id)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c == '.' || c == '@' || atext(c)) {
			return fmt.Errorf("%w: %q: character %q not allowed", ErrInvalid, id, c)
		}
	}
	return nil
}

func atext(c byte) bool { return atextTable[c] }

// atextTable marks the RFC 5322 atext characters (US-ASCII).
var atextTable = func() (t [256]bool) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		t[c] = 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
			strings.IndexByte("!#$%&'*+-/=?^_`{|}~", b) >= 0
	}
	return t
}()

func checkAttachment(a Attachment) error {
	if a.Body == nil {
		return fmt.Errorf("%w: Body is nil", ErrMissing)
	}
	if a.Filename == "" && a.ContentID == "" {
		return fmt.Errorf("%w: an attachment needs a Filename", ErrMissing)
	}
	if err := headers.CheckText(a.Filename); err != nil {
		return &Error{Field: "Filename", Err: err}
	}
	if strings.ContainsAny(a.Filename, `/\`) {
		return &Error{Field: "Filename", Err: fmt.Errorf("%w: %q contains a path separator; give the base name", ErrInvalid, a.Filename)}
	}
	if a.ContentType != "" {
		if err := headers.CheckText(a.ContentType); err != nil {
			return &Error{Field: "ContentType", Err: err}
		}
		mt, _, err := mime.ParseMediaType(a.ContentType)
		if err != nil || !strings.Contains(mt, "/") {
			return &Error{Field: "ContentType", Err: fmt.Errorf("%w: %q is not a media type", ErrInvalid, a.ContentType)}
		}
		if strings.HasPrefix(mt, "multipart/") || strings.HasPrefix(mt, "message/") {
			return &Error{Field: "ContentType", Err: fmt.Errorf("%w: %q cannot be sent as base64", ErrInvalid, a.ContentType)}
		}
	}
	if a.ContentID != "" {
		if err := checkID(strings.TrimSuffix(strings.TrimPrefix(a.ContentID, "<"), ">"), false); err != nil {
			return &Error{Field: "ContentID", Err: err}
		}
	}
	return nil
}

// contentType returns the attachment's media type: ContentType, the type
// registered for the file extension, or application/octet-stream.
func (a Attachment) contentType() (string, map[string]string) {
	ct := a.ContentType
	if ct == "" {
		ct = mime.TypeByExtension(strings.ToLower(path.Ext(a.Filename)))
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || ct == "" {
		return "application/octet-stream", map[string]string{}
	}
	return mt, params
}
