//! The two-site DR state machine of the patent (002, Figure 2): eight states,
//! nine transitions, and the table of which transition leaves which state.
//! The console shows exactly one state; a transition not in the table is
//! refused, never applied.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A state of the two-site system, numbered as in the patent's Figure 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DrState {
    /// 202: primary serves, data flows primary → secondary.
    Normal,
    /// 206: a primary subsystem, user access point or sync is degrading.
    DegradingPrimary,
    /// 210: primary quiescing, secondary being activated.
    EngagingSecondary,
    /// 214: secondary serves users, primary in standby, changes cached.
    SecondaryEngaged,
    /// 218: preparing to switch back; cached changes not yet sent to primary.
    ReSyncPrimary,
    /// 222: secondary quiescing, primary being activated (single user action).
    EngagingPrimary,
    /// 226: changes flow primary → secondary again.
    ReSyncSecondary,
    /// 232: primary healthy but users cannot reach it well.
    DegradedUserAccess,
}

impl DrState {
    /// Every state, in the patent's numbering order.
    pub const ALL: [DrState; 8] = [
        DrState::Normal,
        DrState::DegradingPrimary,
        DrState::EngagingSecondary,
        DrState::SecondaryEngaged,
        DrState::ReSyncPrimary,
        DrState::EngagingPrimary,
        DrState::ReSyncSecondary,
        DrState::DegradedUserAccess,
    ];

    /// The reference number in the patent.
    pub fn code(self) -> u16 {
        match self {
            DrState::Normal => 202,
            DrState::DegradingPrimary => 206,
            DrState::EngagingSecondary => 210,
            DrState::SecondaryEngaged => 214,
            DrState::ReSyncPrimary => 218,
            DrState::EngagingPrimary => 222,
            DrState::ReSyncSecondary => 226,
            DrState::DegradedUserAccess => 232,
        }
    }

    /// The name the console shows.
    pub fn label(self) -> &'static str {
        match self {
            DrState::Normal => "Normal",
            DrState::DegradingPrimary => "Degrading Primary",
            DrState::EngagingSecondary => "Engaging Secondary",
            DrState::SecondaryEngaged => "Secondary Engaged/Primary Standby",
            DrState::ReSyncPrimary => "ReSync Primary",
            DrState::EngagingPrimary => "Engaging Primary",
            DrState::ReSyncSecondary => "ReSync Secondary",
            DrState::DegradedUserAccess => "Degraded User Access",
        }
    }
}

impl fmt::Display for DrState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.label(), self.code())
    }
}

/// A transition of Figure 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Transition {
    /// 204: Normal → Degrading Primary (an agent sees impairment).
    Degrade,
    /// 208: Degrading Primary → Engaging Secondary (single user action or autopilot).
    EngageSecondary,
    /// 212: Engaging Secondary → Secondary Engaged ("Engaging Secondary Success").
    SecondaryEngagedSuccess,
    /// 216: Secondary Engaged → ReSync Primary ("Secondary Engaged/Primary Standby - Success").
    StandbySuccess,
    /// 220: ReSync Primary → Engaging Primary ("ReSync Primary - Success").
    ReSyncPrimarySuccess,
    /// 224: Engaging Primary → ReSync Secondary ("Engaging Primary - Success").
    EngagingPrimarySuccess,
    /// 228: ReSync Secondary → Normal ("To System Normal").
    ToNormal,
    /// 230: Normal → Degraded User Access.
    DegradeUserAccess,
    /// 234: Degraded User Access → Engaging Secondary (single user action).
    EngageFromDegradedAccess,
}

impl Transition {
    /// Every transition, in the patent's numbering order.
    pub const ALL: [Transition; 9] = [
        Transition::Degrade,
        Transition::EngageSecondary,
        Transition::SecondaryEngagedSuccess,
        Transition::StandbySuccess,
        Transition::ReSyncPrimarySuccess,
        Transition::EngagingPrimarySuccess,
        Transition::ToNormal,
        Transition::DegradeUserAccess,
        Transition::EngageFromDegradedAccess,
    ];

    /// The reference number in the patent.
    pub fn code(self) -> u16 {
        match self {
            Transition::Degrade => 204,
            Transition::EngageSecondary => 208,
            Transition::SecondaryEngagedSuccess => 212,
            Transition::StandbySuccess => 216,
            Transition::ReSyncPrimarySuccess => 220,
            Transition::EngagingPrimarySuccess => 224,
            Transition::ToNormal => 228,
            Transition::DegradeUserAccess => 230,
            Transition::EngageFromDegradedAccess => 234,
        }
    }

    /// The (only) state this transition leaves and the state it enters.
    pub fn edge(self) -> (DrState, DrState) {
        use DrState::*;
        match self {
            Transition::Degrade => (Normal, DegradingPrimary),
            Transition::EngageSecondary => (DegradingPrimary, EngagingSecondary),
            Transition::SecondaryEngagedSuccess => (EngagingSecondary, SecondaryEngaged),
            Transition::StandbySuccess => (SecondaryEngaged, ReSyncPrimary),
            Transition::ReSyncPrimarySuccess => (ReSyncPrimary, EngagingPrimary),
            Transition::EngagingPrimarySuccess => (EngagingPrimary, ReSyncSecondary),
            Transition::ToNormal => (ReSyncSecondary, Normal),
            Transition::DegradeUserAccess => (Normal, DegradedUserAccess),
            Transition::EngageFromDegradedAccess => (DegradedUserAccess, EngagingSecondary),
        }
    }

    /// Applies the transition to `from`: the new state, or the refusal.
    pub fn apply(self, from: DrState) -> Result<DrState, IllegalTransition> {
        let (src, dst) = self.edge();
        if src == from {
            Ok(dst)
        } else {
            Err(IllegalTransition {
                from,
                transition: self,
            })
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (a, b) = self.edge();
        write!(f, "{} ({} -> {})", self.code(), a.label(), b.label())
    }
}

/// A transition was attempted from a state it does not leave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("transition {transition} is illegal in state {from}")]
pub struct IllegalTransition {
    /// The current state.
    pub from: DrState,
    /// The refused transition.
    pub transition: Transition,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives the machine with every transition in every state: exactly the
    /// nine edges of Figure 2 are accepted, everything else refused.
    #[test]
    fn every_event_in_every_state() {
        let mut accepted = Vec::new();
        for s in DrState::ALL {
            for t in Transition::ALL {
                match t.apply(s) {
                    Ok(to) => accepted.push((s.code(), t.code(), to.code())),
                    Err(e) => assert_eq!((e.from, e.transition), (s, t)),
                }
            }
        }
        accepted.sort();
        assert_eq!(
            accepted,
            vec![
                (202, 204, 206),
                (202, 230, 232),
                (206, 208, 210),
                (210, 212, 214),
                (214, 216, 218),
                (218, 220, 222),
                (222, 224, 226),
                (226, 228, 202),
                (232, 234, 210),
            ]
        );
    }

    #[test]
    fn every_state_is_reachable_from_normal() {
        let mut seen = vec![DrState::Normal];
        let mut frontier = vec![DrState::Normal];
        while let Some(s) = frontier.pop() {
            for t in Transition::ALL {
                if let Ok(n) = t.apply(s)
                    && !seen.contains(&n)
                {
                    seen.push(n);
                    frontier.push(n);
                }
            }
        }
        assert_eq!(seen.len(), DrState::ALL.len());
    }
}
