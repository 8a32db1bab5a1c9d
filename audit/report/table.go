package report

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSVHeader is the first row WriteCSV writes: the message table's columns.
var CSVHeader = []string{"time", "outcome_time", "message_id", "from", "rcpts", "profile", "transport", "relay",
	"queue_id", "tls", "auth_mech", "auth_user", "smime_signer_sha256", "smime_recipients_sha256",
	"outcome", "attempts", "latency_ms", "last_error", "test", "first_seq", "last_seq"}

// WriteCSV writes the message table as CSV (RFC 4180) with CSVHeader as its
// first row. Lists (recipients, certificate fingerprints) are joined with
// "; ". A value that a spreadsheet would take for a formula (starting with
// =, +, -, @, tab or carriage return) is prefixed with an apostrophe.
func (r *Report) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	err := r.rows(func(m *Message) error {
		lat := ""
		if m.LatencyMS != nil {
			lat = strconv.FormatInt(*m.LatencyMS, 10)
		}
		row := []string{csvTime(m.Time), csvTime(m.OutcomeTime), m.MessageID, m.From, strings.Join(m.Rcpts, "; "), m.Profile,
			m.Transport, m.Relay, m.QueueID, m.TLS, m.AuthMech, m.AuthUser, m.SMIMESigner, strings.Join(m.SMIMERecipients, "; "),
			string(m.Outcome), strconv.Itoa(m.Attempts), lat, m.LastError, strconv.FormatBool(m.Test),
			strconv.FormatUint(m.FirstSeq, 10), strconv.FormatUint(m.LastSeq, 10)}
		for i, v := range row {
			row[i] = csvSafe(v)
		}
		return cw.Write(row)
	})
	if err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// csvSafe defuses spreadsheet formulas (CSV injection).
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// WriteJSON writes the report as one JSON object: title, generated, period,
// verdict, summary and "messages", the message table (the same rows as the
// CSV), streamed row by row.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	head, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("report: json: %w", err)
	}
	bw.Write(head[:len(head)-1])
	bw.WriteString(`,"messages":[`)
	n := 0
	err = r.rows(func(m *Message) error {
		b, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		bw.WriteByte('\n')
		n++
		_, err = bw.Write(b)
		return err
	})
	if err != nil {
		return err
	}
	bw.WriteString("\n]}\n")
	return bw.Flush()
}
