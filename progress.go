package mailwarden

import "mailwarden/transport"

// A ProgressEvent reports where a send or an enqueue is (Options.Progress):
// its phase, the message's ID and, while transferring, the bytes written of
// the total. It never carries content, addresses or secrets.
type ProgressEvent = transport.ProgressEvent

// A Phase is a step of a send (see ProgressEvent).
type Phase = transport.Phase

// The phases a send goes through, in order. Building covers the message's
// preparation; with S/MIME, Signing and Encrypting are reported as the
// message is written, signed and encrypted in one stream into the spool;
// Spooling is reported once the message is stored (Written and Total are
// its size). Connecting, Transferring and Done come from the SMTP transport;
// the graph transport reports none of them. An enqueue stops at Spooling.
const (
	PhaseBuilding     = transport.PhaseBuilding
	PhaseSigning      = transport.PhaseSigning
	PhaseEncrypting   = transport.PhaseEncrypting
	PhaseSpooling     = transport.PhaseSpooling
	PhaseConnecting   = transport.PhaseConnecting
	PhaseTransferring = transport.PhaseTransferring
	PhaseDone         = transport.PhaseDone
)

// report calls Options.Progress, when set, with one event.
func (s *Sender) report(p Phase, id string, size int64) {
	if s.progress == nil {
		return
	}
	s.progress(ProgressEvent{Phase: p, MessageID: id, Written: size, Total: size})
}

// reportBuild reports the phases before the message is written: building,
// then signing and encrypting when the profile's S/MIME does them.
func (s *Sender) reportBuild(id string) {
	if s.progress == nil {
		return
	}
	s.report(PhaseBuilding, id, 0)
	if s.smime != nil && s.smime.identity != nil {
		s.report(PhaseSigning, id, 0)
	}
	if s.smime != nil && len(s.smime.recipients) > 0 {
		s.report(PhaseEncrypting, id, 0)
	}
}
