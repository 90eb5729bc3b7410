//! The search itself, apart from running load: which rate to try next,
//! how often, and what the tries say. A probe at a rate answers pass, fail
//! or generator-limited; this module steps the rate up geometrically until
//! a rate fails, then bisects between the highest passing and the lowest
//! failing rate until they are within the precision, repeating the probes
//! near the boundary until a majority agrees.
//!
//! - **Step-up**: `start`, `start × growth`, … (at most `max`), one probe
//!   each. The first failing rate is repeated (`confirm`); a rate whose
//!   repeats pass after all lets the step-up go on.
//! - **Bisection**: the middle of the bracket, repeated until a majority of
//!   `confirm` probes agree; a pass raises the bracket's floor, a fail
//!   lowers its ceiling; until `ceiling - floor <= precision × floor`.
//! - **The floor is confirmed**: a floor that passed only once (from the
//!   step-up) is repeated before it is reported; if its majority fails, it
//!   becomes the ceiling and the search goes on below it.
//! - A probe the generator could not drive ends the search at once: no
//!   figure at or above that rate is the node's.

/// What one probe at a rate showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every SLO rule held.
    Pass,
    /// A rule failed.
    Fail,
    /// The generator could not drive the rate (its own start lag): the
    /// probe says nothing of the node.
    GeneratorLimited,
}

/// Why a probe was run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Stepping the rate up.
    StepUp,
    /// Halving the bracket.
    Bisect,
    /// Repeating a rate near the boundary.
    Confirm,
}

impl Phase {
    /// `step-up`, `bisect`, `confirm`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::StepUp => "step-up",
            Phase::Bisect => "bisect",
            Phase::Confirm => "confirm",
        }
    }
}

/// The search's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// First rate (per second).
    pub start: f64,
    /// Highest rate tried.
    pub max: f64,
    /// Factor between step-up rates (> 1).
    pub growth: f64,
    /// Stop when the bracket is within this fraction of its floor.
    pub precision: f64,
    /// Probes near the boundary: repeated until a majority of this many agree.
    pub confirm: u32,
}

/// How the search ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// The capacity: the highest rate that passed (confirmed), below the
    /// lowest that failed, within the precision.
    Found {
        /// Highest passing rate.
        pass: f64,
        /// Lowest failing rate.
        fail: f64,
    },
    /// Not even the first rate met the SLO.
    BelowStart {
        /// The first rate.
        fail: f64,
    },
    /// Every rate up to the maximum passed: the capacity is at least that.
    AboveMax {
        /// The maximum rate (passed).
        pass: f64,
    },
    /// The generator could not drive `limit`: the capacity is at least
    /// `pass` (when any rate passed), above that the search cannot tell.
    GeneratorLimited {
        /// Highest passing rate, if any.
        pass: Option<f64>,
        /// The rate the generator could not drive.
        limit: f64,
    },
}

/// A probe the search asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// Rate (per second).
    pub rate: f64,
    /// Why.
    pub phase: Phase,
}

/// What the probes at one rate said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tally {
    /// The rate.
    pub rate: f64,
    /// Probes that passed.
    pub passes: u32,
    /// Probes that failed.
    pub fails: u32,
    /// The verdict of the rate: the majority once it is decided, else the
    /// last probe's.
    pub verdict: Verdict,
    /// Whether a majority of `confirm` probes decided it.
    pub confirmed: bool,
}

/// Runs the search; `probe` runs one probe (an error stops the search and
/// is returned). Returns the outcome and, per rate tried, what its probes
/// said (in the order the rates were first tried).
pub fn run<E>(
    s: &Settings,
    mut probe: impl FnMut(Probe) -> Result<Verdict, E>,
) -> Result<(Outcome, Vec<Tally>), E> {
    let mut book = Book {
        settings: *s,
        tallies: Vec::new(),
    };
    let outcome = book.search(&mut probe)?;
    Ok((outcome, book.tallies))
}

/// The probes so far.
struct Book {
    settings: Settings,
    tallies: Vec<Tally>,
}

/// A decided rate, or the generator's limit.
enum Decided {
    Pass,
    Fail,
    Limited,
}

impl Book {
    fn tally(&mut self, rate: f64) -> &mut Tally {
        let i = match self.tallies.iter().position(|t| t.rate == rate) {
            Some(i) => i,
            None => {
                self.tallies.push(Tally {
                    rate,
                    passes: 0,
                    fails: 0,
                    verdict: Verdict::Fail,
                    confirmed: false,
                });
                self.tallies.len() - 1
            }
        };
        &mut self.tallies[i]
    }

    /// One probe at `rate`, booked.
    fn once<E>(
        &mut self,
        rate: f64,
        phase: Phase,
        probe: &mut impl FnMut(Probe) -> Result<Verdict, E>,
    ) -> Result<Verdict, E> {
        let v = probe(Probe { rate, phase })?;
        let t = self.tally(rate);
        match v {
            Verdict::Pass => t.passes += 1,
            Verdict::Fail => t.fails += 1,
            Verdict::GeneratorLimited => {}
        }
        t.verdict = v;
        Ok(v)
    }

    /// Probes `rate` (counting the probes it already had) until a majority
    /// of `confirm` agrees.
    fn decide<E>(
        &mut self,
        rate: f64,
        first: Phase,
        probe: &mut impl FnMut(Probe) -> Result<Verdict, E>,
    ) -> Result<Decided, E> {
        let need = self.settings.confirm.max(1) / 2 + 1;
        let mut phase = first;
        loop {
            let t = *self.tally(rate);
            if t.passes >= need || t.fails >= need {
                let pass = t.passes >= need;
                let t = self.tally(rate);
                t.confirmed = true;
                t.verdict = if pass { Verdict::Pass } else { Verdict::Fail };
                return Ok(if pass { Decided::Pass } else { Decided::Fail });
            }
            if self.once(rate, phase, probe)? == Verdict::GeneratorLimited {
                return Ok(Decided::Limited);
            }
            phase = Phase::Confirm;
        }
    }

    fn search<E>(
        &mut self,
        probe: &mut impl FnMut(Probe) -> Result<Verdict, E>,
    ) -> Result<Outcome, E> {
        let s = self.settings;
        // Step up.
        let mut rate = s.start.min(s.max);
        let mut floor: Option<f64> = None;
        let ceiling = loop {
            match self.once(rate, Phase::StepUp, probe)? {
                Verdict::GeneratorLimited => {
                    return Ok(Outcome::GeneratorLimited {
                        pass: floor,
                        limit: rate,
                    });
                }
                Verdict::Pass => floor = Some(rate),
                Verdict::Fail => match self.decide(rate, Phase::Confirm, probe)? {
                    Decided::Limited => {
                        return Ok(Outcome::GeneratorLimited {
                            pass: floor,
                            limit: rate,
                        });
                    }
                    Decided::Fail => break rate,
                    Decided::Pass => floor = Some(rate),
                },
            }
            if rate >= s.max {
                return Ok(Outcome::AboveMax { pass: rate });
            }
            rate = (rate * s.growth).min(s.max);
        };
        self.bisect(floor, ceiling, probe)
    }

    /// Bisects between `floor` (passed) and `ceiling` (failed, confirmed).
    fn bisect<E>(
        &mut self,
        mut floor: Option<f64>,
        mut ceiling: f64,
        probe: &mut impl FnMut(Probe) -> Result<Verdict, E>,
    ) -> Result<Outcome, E> {
        let s = self.settings;
        loop {
            let Some(low) = floor else {
                return Ok(Outcome::BelowStart { fail: ceiling });
            };
            if ceiling - low > s.precision * low {
                let mid = (low + ceiling) / 2.0;
                match self.decide(mid, Phase::Bisect, probe)? {
                    Decided::Pass => floor = Some(mid),
                    Decided::Fail => ceiling = mid,
                    Decided::Limited => {
                        return Ok(Outcome::GeneratorLimited {
                            pass: floor,
                            limit: mid,
                        });
                    }
                }
                continue;
            }
            // Close enough: the floor must stand on a majority too.
            match self.decide(low, Phase::Confirm, probe)? {
                Decided::Pass => {
                    return Ok(Outcome::Found {
                        pass: low,
                        fail: ceiling,
                    });
                }
                Decided::Limited => {
                    return Ok(Outcome::GeneratorLimited {
                        pass: None,
                        limit: low,
                    });
                }
                Decided::Fail => {
                    ceiling = low;
                    floor = self
                        .tallies
                        .iter()
                        .filter(|t| t.rate < low && t.verdict == Verdict::Pass)
                        .map(|t| t.rate)
                        .fold(None, |m: Option<f64>, r| Some(m.map_or(r, |m| m.max(r))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings {
            start: 50.0,
            max: 1e6,
            growth: 2.0,
            precision: 0.05,
            confirm: 3,
        }
    }

    /// A node that meets the SLO below `capacity`.
    fn node(capacity: f64) -> impl FnMut(Probe) -> Result<Verdict, ()> {
        move |p| {
            Ok(if p.rate <= capacity {
                Verdict::Pass
            } else {
                Verdict::Fail
            })
        }
    }

    #[test]
    fn a_clean_node_is_bracketed_within_the_precision() {
        for capacity in [75.0, 333.0, 1000.0, 4321.0, 99_999.0] {
            let (o, tallies) = run(&settings(), node(capacity)).unwrap();
            let Outcome::Found { pass, fail } = o else {
                panic!("{capacity}: {o:?}")
            };
            assert!(
                pass <= capacity && capacity < fail,
                "{capacity}: {pass}..{fail}"
            );
            assert!(fail - pass <= 0.05 * pass, "{capacity}: {pass}..{fail}");
            let t = tallies.iter().find(|t| t.rate == pass).unwrap();
            assert!(
                t.confirmed && t.passes >= 2,
                "the floor is confirmed: {t:?}"
            );
        }
    }

    #[test]
    fn the_first_rate_failing_is_below_start_and_every_rate_passing_above_max() {
        let (o, _) = run(&settings(), node(10.0)).unwrap();
        assert_eq!(o, Outcome::BelowStart { fail: 50.0 });
        let s = Settings {
            max: 1000.0,
            ..settings()
        };
        let (o, tallies) = run(&s, node(1e9)).unwrap();
        assert_eq!(o, Outcome::AboveMax { pass: 1000.0 });
        assert_eq!(tallies.last().unwrap().rate, 1000.0, "the maximum is tried");
    }

    #[test]
    fn a_lone_failure_is_repeated_and_outvoted() {
        // 400/s fails once by noise, then passes twice.
        let mut seen400 = 0;
        let probe = |p: Probe| {
            if p.rate == 400.0 {
                seen400 += 1;
                return Ok::<_, ()>(if seen400 == 1 {
                    Verdict::Fail
                } else {
                    Verdict::Pass
                });
            }
            Ok(if p.rate <= 1000.0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            })
        };
        let (o, tallies) = run(&settings(), probe).unwrap();
        let Outcome::Found { pass, .. } = o else {
            panic!("{o:?}")
        };
        assert!(pass > 900.0, "{pass}");
        let t = tallies.iter().find(|t| t.rate == 400.0).unwrap();
        assert_eq!((t.passes, t.fails, t.verdict), (2, 1, Verdict::Pass));
    }

    #[test]
    fn a_floor_that_does_not_hold_on_repeats_gives_way() {
        // 800/s passes the first time only; the node really holds 500/s.
        let mut first800 = true;
        let probe = |p: Probe| {
            if p.rate == 800.0 && std::mem::take(&mut first800) {
                return Ok::<_, ()>(Verdict::Pass);
            }
            Ok(if p.rate <= 500.0 {
                Verdict::Pass
            } else {
                Verdict::Fail
            })
        };
        let s = Settings {
            precision: 0.5,
            ..settings()
        };
        let (o, _) = run(&s, probe).unwrap();
        let Outcome::Found { pass, fail } = o else {
            panic!("{o:?}")
        };
        assert!(pass <= 500.0 && fail > 500.0, "{pass}..{fail}");
    }

    #[test]
    fn a_rate_the_generator_cannot_drive_ends_the_search() {
        let probe = |p: Probe| {
            Ok::<_, ()>(if p.rate >= 1600.0 {
                Verdict::GeneratorLimited
            } else {
                Verdict::Pass
            })
        };
        let (o, _) = run(&settings(), probe).unwrap();
        assert_eq!(
            o,
            Outcome::GeneratorLimited {
                pass: Some(800.0),
                limit: 1600.0
            }
        );
    }

    #[test]
    fn an_error_stops_the_search() {
        let probe = |p: Probe| {
            if p.rate > 100.0 {
                Err("boom")
            } else {
                Ok(Verdict::Pass)
            }
        };
        assert_eq!(run(&settings(), probe).unwrap_err(), "boom");
    }
}
