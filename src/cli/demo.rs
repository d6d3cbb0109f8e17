//! The demo workspace created on the embedded server's first start, and the echo bot.
//!
//! Everything here goes through the SDK exactly as a user would (create → send), so the
//! demo also exercises the real paths.

use anyhow::Context as _;

use super::session::Session;
use crate::model::{GroupMemberSpec, role};
use crate::sdk::{SdkConfig, SendParams, Tim, TimEvent};
use crate::usersig::{self, AppKey};

pub const DEMO_USERS: [&str; 4] = ["alice", "bob", "carol", "xiaoming"];
pub const ECHO_BOT: &str = "echo";
pub const WORK_GROUP: &str = "team";
pub const PUBLIC_GROUP: &str = "lounge";

async fn login_as(session: &Session, key: &AppKey, user: &str) -> anyhow::Result<Tim> {
    let sig = usersig::gen_sig(key, user, usersig::DEFAULT_EXPIRE_SECS);
    let config = SdkConfig {
        server_url: session.server_url.clone(),
        data_dir: session.layout.root.join("demo"),
    };
    Tim::login(config, user, &sig)
        .await
        .map_err(|e| anyhow::anyhow!("demo login as {user}: {e}"))
}

async fn say(tim: &Tim, to: &str, group: &str, text: &str) -> anyhow::Result<()> {
    let created = tim
        .create_text_message(text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    tim.send_message(SendParams {
        id: created.id,
        receiver: to.to_string(),
        group_id: group.to_string(),
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("demo message: {e}"))?;
    Ok(())
}

/// Create the demo users, groups and history. Idempotent enough to rerun: an existing
/// group id is skipped.
pub async fn seed(session: &Session) -> anyhow::Result<()> {
    let key =
        AppKey::load(&session.layout.server_dir()).context("reading the embedded server's key")?;
    let me = session.tim.login_user();
    let alice = login_as(session, &key, "alice").await?;
    let bob = login_as(session, &key, "bob").await?;
    let carol = login_as(session, &key, "carol").await?;
    let xiaoming = login_as(session, &key, "xiaoming").await?;
    let echo = login_as(session, &key, ECHO_BOT).await?;

    let mut team: Vec<GroupMemberSpec> = ["bob", "carol", "xiaoming"]
        .iter()
        .map(|u| GroupMemberSpec {
            user_id: u.to_string(),
            role: role::MEMBER,
        })
        .collect();
    if !DEMO_USERS.contains(&me.as_str()) {
        team.push(GroupMemberSpec {
            user_id: me.clone(),
            role: role::MEMBER,
        });
    }
    let team_ok = alice
        .create_group("Work", "Team 工作组", Some(WORK_GROUP), &team)
        .await
        .is_ok();
    if team_ok {
        say(
            &alice,
            "",
            WORK_GROUP,
            "Morning all! Stand-up in 5 minutes ☕",
        )
        .await?;
        say(&bob, "", WORK_GROUP, "我今天在家工作 🏠，有事请发消息").await?;
        say(
            &xiaoming,
            "",
            WORK_GROUP,
            "好的！The release notes are ready for review.",
        )
        .await?;
        let poll = carol
            .create_custom_message(
                r#"{"type":"poll","question":"Lunch?","options":["noodles 🍜","pizza 🍕"]}"#,
                "Poll: Lunch?",
                "vote with /poll",
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        carol
            .send_message(SendParams {
                id: poll.id,
                group_id: WORK_GROUP.into(),
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("demo poll: {e}"))?;
    }
    let lounge = [GroupMemberSpec {
        user_id: "alice".into(),
        role: role::MEMBER,
    }];
    if bob
        .create_group("Public", "Lounge", Some(PUBLIC_GROUP), &lounge)
        .await
        .is_ok()
    {
        if !DEMO_USERS.contains(&me.as_str()) {
            let _ = session.tim.join_group(PUBLIC_GROUP, "").await;
        }
        say(
            &bob,
            "",
            PUBLIC_GROUP,
            "Welcome to the lounge. Anyone can join this Public group.",
        )
        .await?;
        say(
            &alice,
            "",
            PUBLIC_GROUP,
            "Try `termim --user bob` in a second terminal to chat with yourself.",
        )
        .await?;
    }
    if me != "alice" {
        say(
            &alice,
            &me,
            "",
            "Hi! I'm alice. Tab moves between panes, ? shows every key.",
        )
        .await?;
    }
    if me != ECHO_BOT {
        say(
            &echo,
            &me,
            "",
            "I'm the echo bot: send me anything and I'll send it back.",
        )
        .await?;
    }
    for tim in [alice, bob, carol, xiaoming, echo] {
        let _ = tim.logout().await;
    }
    Ok(())
}

/// Run the echo bot until the process ends: it answers every one-to-one message.
pub async fn spawn_echo_bot(session: &Session) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let key =
        AppKey::load(&session.layout.server_dir()).context("reading the embedded server's key")?;
    let bot = login_as(session, &key, ECHO_BOT).await?;
    let mut events = bot.add_listener();
    Ok(tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let TimEvent::NewMessage(m) = event else {
                continue;
            };
            if m.group_id.is_some() || m.sender == ECHO_BOT || m.is_online_only {
                continue;
            }
            let reply = match (&m.text_elem, &m.custom_elem) {
                (Some(t), _) => format!("echo: {}", t.text),
                (_, Some(c)) => format!(
                    "echo: custom message, desc {:?}, {} bytes of data",
                    c.desc,
                    c.data.len()
                ),
                _ => continue,
            };
            if let Err(e) = say(&bot, &m.sender, "", &reply).await {
                tracing::warn!("echo bot: {e:#}");
            }
        }
    }))
}
