package audit

import (
	"encoding/json"
	"log/slog"
	"testing"
)

// TestStringListEncoding: a []string value (the recipients of every send)
// is written as encoding/json followed by the re-encoding would write it,
// byte for byte: quotes, control characters, non-ASCII, invalid UTF-8,
// characters outside the BMP, nil and empty lists.
func TestStringListEncoding(t *testing.T) {
	var e encoder
	for _, x := range [][]string{
		nil,
		{},
		{"a@example.org"},
		{"\"quoted\"@example.org", "back\\slash", "tab\tnew\nline\r", "\x01\x7f", "ünïcode", "bad\xffutf8", "😀", "<>&\u2028"},
	} {
		sameAsJSON(t, &e, x)
	}
}

// rcptLike has the shape of the transport's per-recipient attribute: JSON
// tags and a LogValue with the same keys.
type rcptLike struct {
	Addr     string `json:"addr"`
	Code     int    `json:"code"`
	Enhanced string `json:"enhanced"`
	Text     string `json:"text"`
}

func (r rcptLike) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", r.Addr), slog.Int("code", r.Code),
		slog.String("enhanced", r.Enhanced), slog.String("text", r.Text))
}

type withSecret struct{ User, Pass string }

func (w withSecret) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", w.User), slog.String("password", w.Pass))
}

// TestLogValuerListEncoding: a slice of slog.LogValuer is written as the
// values its elements resolve to: for a type whose LogValue has the keys
// of its JSON form, the same bytes as through encoding/json and the
// re-encoding; secret keys inside are redacted.
func TestLogValuerListEncoding(t *testing.T) {
	var e encoder
	for _, x := range [][]rcptLike{
		nil,
		{},
		{{Addr: "a@example.org"}},
		{{Addr: "a@example.org", Code: 250, Enhanced: "2.1.5", Text: "Ok"}, {Addr: "ü\"@example.org", Code: 550, Text: "no\r\nsuch \xff user"}},
	} {
		sameAsJSON(t, &e, x)
	}
	got := string(e.appendAny(nil, []withSecret{{"u", "hunter2"}}))
	if want := `[{"user":"u","password":"` + Redacted + `"}]`; got != want {
		t.Errorf("secret in a LogValuer list: got %s, want %s", got, want)
	}
	// Elements of interface type resolve the same way.
	got = string(e.appendAny(nil, []slog.LogValuer{withSecret{"u", "hunter2"}, rcptLike{Addr: "a@example.org", Code: 250}}))
	if want := `[{"user":"u","password":"` + Redacted + `"},{"addr":"a@example.org","code":250,"enhanced":"","text":""}]`; got != want {
		t.Errorf("list of slog.LogValuer: got %s, want %s", got, want)
	}
	// Each element resolves on its own (not all to the first or last).
	got = string(e.appendAny(nil, []rcptLike{{Addr: "a@x"}, {Addr: "b@x"}}))
	if want := `[{"addr":"a@x","code":0,"enhanced":"","text":""},{"addr":"b@x","code":0,"enhanced":"","text":""}]`; got != want {
		t.Errorf("two elements: got %s, want %s", got, want)
	}
}

// sameAsJSON checks that the direct encoding of x is the same bytes as
// encoding/json's, re-encoded as every other value is.
func sameAsJSON(t *testing.T, e *encoder, x any) {
	t.Helper()
	got := string(e.appendAny(nil, x))
	raw, err := json.Marshal(x)
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.reencode(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%+v: got %s, want %s", x, got, want)
	}
}
