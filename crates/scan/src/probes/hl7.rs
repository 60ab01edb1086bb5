//! The HL7 v2 probe: does the port speak MLLP, and who answers — with one harmless message.
//!
//! It writes the single message `medsurface_proto::hl7::ProbeMessage` (MSH only: sending
//! application MEDSURFACE, `NMQ^N01` application management query, processing ID `T`, a random
//! control ID; the proto module says why that message and no other) in an MLLP frame, reads at
//! most one answer frame ([`hl7::FRAME_LIMIT`] bytes, until the read timeout or the probe's
//! budget), and closes. Nothing else is ever sent, whatever the peer answers.
//!
//! Ports: the medical profile's `hl7-mllp` rows, 2575 (IANA `health-hl7`) and 6661 (Mirth
//! Connect's default listener). MLLP has no other well-known port — listeners sit on whatever
//! port an integration was given — so a user who knows of an MLLP listener elsewhere points
//! this probe at it with `--probe hl7:PORT`.
//!
//! Details: `hl7.speaks_mllp` once the message is sent (true only when a framed HL7 message
//! came back); from
//! the answer `hl7.sending_application` (MSH-3), `hl7.sending_facility` (MSH-4),
//! `hl7.message_type` (MSH-9), `hl7.version` (MSH-12) and `hl7.ack_code` (MSA-1); when the peer
//! sent something that is not HL7, or nothing, `banner.bytes` and `banner.text` or
//! `banner.silent`, so the port is still described.

use medsurface_model::{Details, Timestamp};
use medsurface_proto::hl7::{self, ControlId, Exchange, ProbeMessage};
use serde_json::Value;
use tokio::net::TcpStream;

use super::db::{profile_port, read_until, record_other, write_before, Budget};
use super::{Probe, ProbeContext, ProbeFuture, ProbeOutput};

/// Talks MLLP to the profile's HL7 ports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hl7Probe;

impl Probe for Hl7Probe {
    fn name(&self) -> &'static str {
        "hl7"
    }

    fn wants(&self, port: u16) -> bool {
        profile_port(port, "hl7-mllp")
    }

    fn run<'a>(&'a self, stream: &'a mut TcpStream, ctx: &'a ProbeContext) -> ProbeFuture<'a> {
        Box::pin(probe(stream, ctx))
    }
}

/// Runs the HL7 probe on a connected stream (the entry point tests use directly).
pub async fn probe(stream: &mut TcpStream, ctx: &ProbeContext) -> ProbeOutput {
    let budget = Budget::new(ctx);
    let mut details = Details::new();
    let Ok(control_id) = ControlId::random() else {
        // Without a random control ID we send nothing rather than a predictable message.
        return ProbeOutput {
            protocol: None,
            details,
        };
    };
    let message = ProbeMessage {
        control_id,
        at: Timestamp::now(),
    };
    if !write_before(stream, &message.to_mllp(), budget.next_wait()).await {
        return ProbeOutput {
            protocol: None,
            details,
        };
    }
    // Sent: from here on, anything but a framed HL7 answer means "does not speak MLLP".
    details.insert(hl7::keys::SPEAKS_MLLP.into(), Value::Bool(false));
    let mut buf = Vec::new();
    read_until(
        stream,
        &mut buf,
        hl7::FRAME_LIMIT,
        budget.next_wait(),
        |b| !matches!(hl7::read_frame(b, hl7::FRAME_LIMIT), Ok(None)),
    )
    .await;
    match hl7::judge(&buf, hl7::FRAME_LIMIT) {
        Exchange::Answered(answer) => {
            answer.write(&mut details);
            ProbeOutput {
                protocol: Some("hl7".to_string()),
                details,
            }
        }
        Exchange::FramedNotHl7 | Exchange::NotMllp | Exchange::Silent => {
            record_other(&mut details, &buf, ctx);
            ProbeOutput {
                protocol: None,
                details,
            }
        }
    }
}
