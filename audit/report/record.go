package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
)

// record is the part of an audit record the report reads (field names:
// docs/audit-fields.md).
type record struct {
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"`
	Level     string    `json:"level"`
	Msg       string    `json:"msg"`
	Hash      string    `json:"hash"`
	Profile   string    `json:"profile"`
	Test      bool      `json:"test"`
	Probe     bool      `json:"probe"`
	Transport string    `json:"transport"`
	Server    string    `json:"server"`
	Endpoint  string    `json:"endpoint"`
	Proxy     string    `json:"proxy"`
	TLS       *struct {
		Mode    string `json:"mode"`
		Version string `json:"version"`
		Cipher  string `json:"cipher"`
	} `json:"tls"`
	Auth *struct {
		Mech string `json:"mech"`
		User string `json:"user"`
	} `json:"auth"`
	From      string          `json:"from"`
	Rcpts     json.RawMessage `json:"rcpts"`
	MessageID string          `json:"message_id"`
	QueueID   string          `json:"queue_id"`
	Error     json.RawMessage `json:"error"`
	Hint      string          `json:"hint"`
	SMIME     *struct {
		Signed     bool     `json:"signed"`
		Encrypted  bool     `json:"encrypted"`
		Signer     string   `json:"signer_sha256"`
		Recipients []string `json:"recipients_sha256"`
	} `json:"smime"`
	Outbox *struct {
		SpoolID string `json:"spool_id"`
		Attempt int    `json:"attempt"`
		Reason  string `json:"reason"`
		Error   string `json:"error"`
		AgeMS   *int64 `json:"age_ms"`
	} `json:"outbox"`
	OutboxDelivery bool   `json:"outbox_delivery"`
	Operator       string `json:"operator"`
	Attempts       int    `json:"attempts"`
	DurationMS     *int64 `json:"duration_ms"`
	Reason         string `json:"reason"`
	Alg            string `json:"alg"`

	errInfo *errorInfo
}

// errorInfo is the "error" group of smtp.* and graph.* records.
type errorInfo struct {
	Stage     string `json:"stage"`
	Code      int    `json:"code"`
	Enhanced  string `json:"enhanced"`
	Text      string `json:"text"`
	Temporary bool   `json:"temporary"`
	Class     string `json:"class"`
	Status    int    `json:"status"`
	GraphCode string `json:"graph_code"`
}

func decode(line []byte) (*record, error) {
	r := &record{}
	if err := json.Unmarshal(line, r); err != nil {
		return nil, err
	}
	if len(r.Error) > 0 && r.Error[0] == '{' {
		e := &errorInfo{}
		if json.Unmarshal(r.Error, e) == nil {
			r.errInfo = e
		}
	}
	return r, nil
}

// rcpts returns the recipient addresses: "rcpts" is a list of strings on
// intents and outbox records and a list of {addr, code, ...} on smtp.send.
func (r *record) rcpts() []string {
	if len(r.Rcpts) == 0 || bytes.Equal(r.Rcpts, []byte("null")) {
		return nil
	}
	var plain []string
	if json.Unmarshal(r.Rcpts, &plain) == nil {
		return plain
	}
	var objs []struct {
		Addr string `json:"addr"`
	}
	if json.Unmarshal(r.Rcpts, &objs) == nil {
		out := make([]string, 0, len(objs))
		for _, o := range objs {
			out = append(out, o.Addr)
		}
		return out
	}
	return nil
}

// failed reports whether the record is a failure summary.
func (r *record) failed() bool { return r.Level == "ERROR" || r.errInfo != nil }

// relay is where the message went: the SMTP server or the Graph endpoint.
func (r *record) relay() string {
	if r.Server != "" {
		return r.Server
	}
	return r.Endpoint
}

// transportName is "graph" or "smtp".
func (r *record) transportName() string {
	if r.Transport != "" {
		return r.Transport
	}
	if strings.HasPrefix(r.Msg, "graph.") {
		return "graph"
	}
	return "smtp"
}

// Failure classes (transport.Class and graph.Class names, plus audit for
// a send refused because the trail could not record it).
const (
	classConnection = "connection"
	classAuth       = "auth"
	classRejected   = "rejected"
	classTemporary  = "temporary"
	classUsage      = "usage"
	classAudit      = "audit"
)

// class is the failure class: error.class when the record carries it
// (Graph), otherwise derived from the stage and reply code the way the
// transport classifies its errors.
func (e *errorInfo) class() string {
	if e.Class != "" {
		return e.Class
	}
	if strings.Contains(e.Text, "audit trail could not record") {
		return classAudit
	}
	switch {
	case e.Code == 530 || e.Code == 534 || e.Code == 535 || e.Code == 538 || (e.Stage == "auth" && e.Code >= 500):
		return classAuth
	case e.Code >= 500 && e.Enhanced == "5.7.57":
		return classAuth
	case e.Stage == "auth" && e.Code >= 400 && e.Code < 500:
		return classTemporary
	case e.Code >= 500 && (e.Stage == "greeting" || e.Stage == "starttls"):
		return classConnection
	case e.Code >= 500:
		return classRejected
	case e.Code >= 400:
		return classTemporary
	case e.Stage == "auth":
		return classAuth
	}
	return classConnection
}
