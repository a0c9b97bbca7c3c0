//! The I/O half of the lab backend's state-changing calls: a call takes
//! the operations its pure half planned ([`super::commands`]) and sends
//! them, in order, through [`Call`] — the only way a state-changing call
//! reaches a host, the container engine, a DC or a DNS server. Each call's
//! plan and what it sent are kept ([`IssuedCall`]), so a test can hold what
//! ran against what the plan showed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use drlab_drivers::OpError;
use drlab_drivers::caps::OpResult;
use drlab_drivers::types::DnsRecord;

use super::LabBackend;
use super::commands::{self, DnsChange, LabOp, Limit, SshOp};
use crate::ssh::Output;

/// The most calls a backend keeps the record of: far above a drill's
/// (the journal allows 100,000 actions), so memory stays bounded.
pub const ISSUED_CALLS_MAX: usize = 100_000;

/// What one state-changing call planned and sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedCall {
    /// The interface method (`start_service`, `inject`, ...).
    pub method: &'static str,
    /// Its plan: the operations, or why it was refused before anything
    /// was sent.
    pub planned: OpResult<Vec<LabOp>>,
    /// What it sent, in order; a failed operation is the last one.
    pub sent: Vec<LabOp>,
}

impl IssuedCall {
    /// The plan's lines of what was sent (the refusal when the call was
    /// refused): what a plan and a journal show for the call.
    pub fn lines(&self) -> Vec<String> {
        match &self.planned {
            Err(e) => vec![commands::refused_line(e)],
            Ok(_) => self.sent.iter().map(ToString::to_string).collect(),
        }
    }
}

/// The record of the calls (bounded by [`ISSUED_CALLS_MAX`]).
#[derive(Debug, Default)]
pub(super) struct Issued {
    calls: RefCell<Vec<IssuedCall>>,
}

impl Issued {
    fn open(&self, method: &'static str, planned: &OpResult<Vec<LabOp>>) -> Option<usize> {
        let mut calls = self.calls.borrow_mut();
        if calls.len() >= ISSUED_CALLS_MAX {
            return None;
        }
        calls.push(IssuedCall {
            method,
            planned: planned.clone(),
            sent: Vec::new(),
        });
        Some(calls.len() - 1)
    }

    fn sent(&self, call: Option<usize>, op: &LabOp) {
        if let Some(i) = call
            && let Some(c) = self.calls.borrow_mut().get_mut(i)
        {
            c.sent.push(op.clone());
        }
    }

    pub(super) fn calls(&self) -> Vec<IssuedCall> {
        self.calls.borrow().clone()
    }
}

/// What an operation answered.
pub(super) enum Answer {
    /// A command's output (any exit status).
    Output(Output),
    /// Whether a connect was answered.
    Answered(bool),
    /// Done (operations that succeed or fail as a whole).
    Done,
}

/// One state-changing call being made: its planned operations, sent one
/// at a time, in order.
pub(super) struct Call<'a> {
    b: &'a LabBackend,
    index: Option<usize>,
    ops: VecDeque<LabOp>,
}

fn bug(what: &str) -> OpError {
    OpError::Io {
        detail: format!("bug in the lab backend: {what}").into(),
    }
}

/// A command's output when it exited 0, else the error naming it.
pub(super) fn succeeded(host: &str, what: &str, out: Output) -> OpResult<Output> {
    if out.success() {
        Ok(out)
    } else {
        Err(OpError::Io {
            detail: format!(
                "{what} on {host} failed (exit {:?}): {}",
                out.exit_status,
                out.stderr.trim()
            )
            .into(),
        })
    }
}

impl LabBackend {
    /// The secret of the `[credentials]` entry `name`, loaded now; `what`
    /// says whose it is in errors (which never hold the secret).
    pub(super) fn credential(&self, name: &str, what: &str) -> OpResult<crate::secret::Secret> {
        self.inv
            .credentials
            .get(name)
            .ok_or_else(|| OpError::not_found(format!("{what} in the inventory's [credentials]")))?
            .load()
            .map_err(|e| OpError::Io {
                detail: format!("{what}: {e}").into(),
            })
    }

    /// Starts a state-changing call with its plan (recorded); a refused
    /// plan is the call's error.
    pub(super) fn call(
        &self,
        method: &'static str,
        planned: OpResult<Vec<LabOp>>,
    ) -> OpResult<Call<'_>> {
        let index = self.issued.open(method, &planned);
        Ok(Call {
            b: self,
            index,
            ops: planned?.into(),
        })
    }

    fn limit(&self, l: Limit) -> Duration {
        Duration::from_millis(match l {
            Limit::Command => self.limits.command_timeout_ms,
            Limit::Copy => self.limits.copy_timeout_ms,
        })
    }

    async fn perform(&self, op: &LabOp) -> OpResult<Answer> {
        match op {
            LabOp::Ssh(s) => self.perform_ssh(s).await.map(Answer::Output),
            LabOp::AddressFree {
                host,
                addr,
                limit_ms,
            } => {
                // A host whose address another holds does not answer as
                // itself: whoever answers there is the holder.
                if self.not_taken_over(host).is_err() {
                    return Ok(Answer::Answered(false));
                }
                let limit = Duration::from_millis(*limit_ms);
                let answered = matches!(
                    tokio::time::timeout(limit, tokio::net::TcpStream::connect(addr)).await,
                    Ok(Ok(_))
                );
                Ok(Answer::Answered(answered))
            }
            LabOp::Engine(e) => self
                .faults
                .run(e)
                .await
                .map(|()| Answer::Done)
                .map_err(OpError::from),
            LabOp::Ldap { dc, change, .. } => self
                .with_ad(dc, async |c| c.apply(change).await)
                .await
                .map(|()| Answer::Done),
            LabOp::Dns { server, change, .. } => {
                let (DnsChange::Add(r) | DnsChange::Delete(r)) = change;
                let u = self
                    .updater(server, &r.name, super::dns::Signer::Runbook)
                    .await?;
                match change {
                    DnsChange::Add(r) => u.add(r).await,
                    DnsChange::Delete(r) => u.delete(r).await,
                }
                .map(|()| Answer::Done)
                .map_err(|e| refused_update(&self.scenario_zone(server, r, &u.zone), e))
            }
            LabOp::FlushCache { client } => {
                self.resolver(client)?.flush();
                Ok(Answer::Done)
            }
            LabOp::WaitUp {
                host,
                after_ms,
                poll_ms,
                limit_ms,
            } => {
                tokio::time::sleep(Duration::from_millis(*after_ms)).await;
                self.wait_up(
                    host,
                    Duration::from_millis(*poll_ms),
                    Duration::from_millis(*limit_ms),
                )
                .await
                .map(|()| Answer::Done)
            }
        }
    }

    pub(super) async fn perform_ssh(&self, s: &SshOp) -> OpResult<Output> {
        let t = self.target(&s.host)?;
        let stdin = match &s.stdin_credential {
            None => Vec::new(),
            Some(name) => {
                let secret = self.credential(name, &format!("credential {name}"))?;
                let mut b = secret.expose().as_bytes().to_vec();
                b.push(b'\n');
                b
            }
        };
        self.ssh
            .exec_with_stdin(&t, &s.command, &stdin, self.limit(s.limit))
            .await
            .map_err(OpError::from)
    }

    /// Waits until `host` answers on SSH, trying every `poll`, at most `limit`.
    async fn wait_up(&self, host: &str, poll: Duration, limit: Duration) -> OpResult<()> {
        let start = Instant::now();
        loop {
            if self
                .sh(host, "true", self.timeout())
                .await
                .is_ok_and(|o| o.success())
            {
                return Ok(());
            }
            if start.elapsed() >= limit {
                return Err(OpError::timeout(format!("boot of {host}"), limit));
            }
            tokio::time::sleep(poll).await;
        }
    }
}

impl Call<'_> {
    /// How many planned operations are still to be sent.
    pub(super) fn left(&self) -> usize {
        self.ops.len()
    }

    /// Sends the next planned operation.
    pub(super) async fn next(&mut self) -> OpResult<(LabOp, Answer)> {
        let op = self
            .ops
            .pop_front()
            .ok_or_else(|| bug("a call sent more than it planned"))?;
        self.b.issued.sent(self.index, &op);
        let answer = self.b.perform(&op).await?;
        Ok((op, answer))
    }

    /// Sends the next planned operation, which must be an SSH command;
    /// returns its output (any exit status).
    pub(super) async fn ssh(&mut self) -> OpResult<Output> {
        match self.next().await? {
            (_, Answer::Output(o)) => Ok(o),
            (op, _) => Err(bug(&format!("{op} is not an SSH command"))),
        }
    }

    /// Sends the next planned operation, which must succeed: a command
    /// exits 0, an address is not answered.
    pub(super) async fn next_ok(&mut self) -> OpResult<()> {
        match self.next().await? {
            (LabOp::Ssh(s), Answer::Output(o)) => succeeded(&s.host, s.what, o).map(|_| ()),
            (LabOp::AddressFree { host, addr, .. }, Answer::Answered(true)) => {
                Err(OpError::refused(format!(
                    "address conflict: {host} still answers at {}",
                    addr.ip()
                )))
            }
            _ => Ok(()),
        }
    }

    /// Sends every operation left; each must succeed.
    pub(super) async fn rest(mut self) -> OpResult<()> {
        while self.left() > 0 {
            self.next_ok().await?;
        }
        Ok(())
    }
}

impl LabBackend {
    /// The scenario's name of the zone that holds `record` (in the lab's
    /// addresses) on `server`, so that a refusal speaks the scenario's
    /// zones as the simulator's does; the lab's zone where the scenario
    /// declares none for it.
    fn scenario_zone(&self, server: &str, record: &DnsRecord, lab_zone: &str) -> String {
        let name = self.commands().addresses().record_to_scenario(record).name;
        self.estate
            .dns_zones
            .get(server)
            .and_then(|zones| super::estate::deepest_zone(zones, &name))
            .map_or_else(|| lab_zone.to_string(), |z| z.name.clone())
    }
}

/// A server's REFUSED to an update of `zone` (RFC 2136 §3.3: the zone's
/// policy does not let this requestor change it) is the refusal every
/// backend reports for a zone without dynamic updates; any other failure
/// (a TSIG the server could not verify, a timeout) stays what it is.
fn refused_update(zone: &str, e: crate::dns::DnsError) -> OpError {
    if e.is_policy_refusal() {
        OpError::dynamic_updates_refused(zone, Some(&e.to_string()))
    } else {
        OpError::from(e)
    }
}
