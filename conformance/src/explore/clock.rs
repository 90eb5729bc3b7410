//! The explorer's time: the wall clock, or a joblet-mock's manual virtual
//! clock moved by the explorer itself.
//!
//! Against a real node every call is bracketed by wall-clock readings (`a`
//! before it is sent, `b` after its answer) and a `Wait` sleeps. Against a
//! joblet-mock whose clock is manual (`--clock manual`; the embedded mock of
//! `explore` runs so), time moves only when the explorer moves it: after
//! each call by a small tick (AdvanceClock), so that short sleeps and
//! schedules fall due as a sequence goes on, and by the whole pause on a
//! `Wait`. The mock fires every timer due on the way and lets the woken jobs
//! settle before it answers, so a scheduled job's start, a `sleep`'s end and
//! a timeout happen at exact virtual times, a pause costs no wall time, and
//! a finding that needs time to pass needs a `Wait` or ticks (which the
//! shrinking keeps), never a slow machine. Sequences running at once share
//! the clock; each reads it after every call, so its `a` and `b` still
//! bracket what it observed.

use std::time::{Duration, Instant};

use chrono::{DateTime, Local, TimeZone};
use tonic::transport::Channel;

use joblet_testkit::control::{self as pb, mock_control_client::MockControlClient};

/// Where the explorer reads time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSource {
    /// The wall clock: the node runs in real time.
    #[default]
    Wall,
    /// The target is a joblet-mock whose clock is manual: the explorer
    /// moves it, by `tick_ms` after every call.
    Mock {
        /// Virtual milliseconds added after each call.
        tick_ms: u64,
    },
}

impl TimeSource {
    /// The mock's clock with the explorer's usual tick (10 ms a call: about
    /// what a call costs against a node in real time).
    pub const MOCK: Self = Self::Mock { tick_ms: 10 };

    /// In words, for the report's first line.
    pub fn describe(self) -> String {
        match self {
            Self::Wall => "wall clock".to_owned(),
            Self::Mock { tick_ms } => {
                format!("the mock's manual clock, {tick_ms} ms a call")
            }
        }
    }
}

/// One sequence's clock: milliseconds since the sequence began.
#[derive(Debug)]
pub struct SeqClock {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Wall(Instant),
    Mock {
        control: MockControlClient<Channel>,
        tick_ms: u64,
        /// The mock's time when the sequence began (Unix ms).
        begin_unix_ms: i64,
        /// The last reading, in ms since `begin_unix_ms`.
        now: f64,
    },
}

impl SeqClock {
    /// Starts a sequence's clock. `channel` reaches the mock's control API
    /// (for [`TimeSource::Mock`]); an error names what is wrong with it.
    pub async fn start(source: TimeSource, channel: &Channel) -> Result<Self, String> {
        let TimeSource::Mock { tick_ms } = source else {
            return Ok(Self {
                kind: Kind::Wall(Instant::now()),
            });
        };
        let mut control = MockControlClient::new(channel.clone());
        let reading = control
            .get_clock(pb::GetClockRequest::default())
            .await
            .map_err(|s| {
                format!(
                    "the target's mock clock cannot be read (is it a joblet-mock?): {}: {}",
                    joblet_testkit::code_name(s.code()),
                    s.message()
                )
            })?
            .into_inner();
        if reading.mode != "manual" {
            return Err(format!(
                "the target's clock is {:?}, not manual: start the mock with `--clock manual`, or explore on the wall clock",
                reading.mode
            ));
        }
        Ok(Self {
            kind: Kind::Mock {
                control,
                tick_ms,
                begin_unix_ms: reading.now_unix_ms,
                now: 0.0,
            },
        })
    }

    /// Now, in ms since the sequence began (on the mock's clock: its last
    /// reading, which nothing but the explorer moves).
    pub fn now(&self) -> f64 {
        match &self.kind {
            Kind::Wall(begin) => begin.elapsed().as_secs_f64() * 1000.0,
            Kind::Mock { now, .. } => *now,
        }
    }

    /// Whether time stands still between the explorer's moves (the mock's
    /// clock): a call cannot see anything fall due while it waits.
    pub fn is_still(&self) -> bool {
        matches!(self.kind, Kind::Mock { .. })
    }

    /// The local time now, for the schedule texts a call sends.
    pub fn now_local(&self) -> DateTime<Local> {
        match &self.kind {
            Kind::Wall(_) => Local::now(),
            Kind::Mock {
                begin_unix_ms, now, ..
            } => Local
                .timestamp_millis_opt(begin_unix_ms + *now as i64)
                .single()
                .unwrap_or_else(Local::now),
        }
    }

    /// After a call: on the mock's clock, moves it by the tick and returns
    /// the time after (no earlier than the answer).
    pub async fn after_call(&mut self) -> Result<f64, String> {
        let tick = match &self.kind {
            Kind::Wall(_) => return Ok(self.now()),
            Kind::Mock { tick_ms, .. } => *tick_ms,
        };
        if tick == 0 {
            return self.read().await;
        }
        self.advance(tick).await
    }

    /// A pause of `ms`: a sleep, or the mock's clock moved by that much.
    pub async fn wait(&mut self, ms: u64) -> Result<(), String> {
        match &self.kind {
            Kind::Wall(_) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(())
            }
            Kind::Mock { .. } => self.advance(ms).await.map(|_| ()),
        }
    }

    /// Awaits `call`, which waits on the node's clock itself (a runtime
    /// build's phases): on the mock's clock, moves it by `step_ms` every
    /// couple of wall milliseconds until the call is answered.
    pub async fn moving_during<F: std::future::Future>(
        &mut self,
        step_ms: u64,
        call: F,
    ) -> F::Output {
        if !self.is_still() {
            return call.await;
        }
        tokio::pin!(call);
        loop {
            tokio::select! {
                out = &mut call => return out,
                () = tokio::time::sleep(Duration::from_millis(2)) => {
                    // A failed move shows as the call's own timeout.
                    let _ = self.advance(step_ms).await;
                }
            }
        }
    }

    async fn advance(&mut self, ms: u64) -> Result<f64, String> {
        let Kind::Mock { control, .. } = &mut self.kind else {
            return Ok(self.now());
        };
        let reading = control
            .advance_clock(pb::AdvanceClockRequest {
                millis: i64::try_from(ms).unwrap_or(i64::MAX),
                ..Default::default()
            })
            .await
            .map_err(|s| format!("AdvanceClock: {}", s.message()))?
            .into_inner();
        Ok(self.set(reading.now_unix_ms))
    }

    async fn read(&mut self) -> Result<f64, String> {
        let Kind::Mock { control, .. } = &mut self.kind else {
            return Ok(self.now());
        };
        let reading = control
            .get_clock(pb::GetClockRequest::default())
            .await
            .map_err(|s| format!("GetClock: {}", s.message()))?
            .into_inner();
        Ok(self.set(reading.now_unix_ms))
    }

    fn set(&mut self, unix_ms: i64) -> f64 {
        if let Kind::Mock {
            begin_unix_ms, now, ..
        } = &mut self.kind
        {
            // Never backwards (another sequence's reading may be older).
            *now = now.max((unix_ms - *begin_unix_ms) as f64);
        }
        self.now()
    }
}
