//! The demo workspace created on the embedded server's first start, and the echo bot.
//! Both run inside the embedded server's own process (`termim serve --embedded`), so the
//! bot answers for as long as the embedded server runs, whichever termim started it.
//!
//! Everything here goes through the SDK exactly as a user would (create → send), so the
//! demo also exercises the real paths.

use anyhow::Context as _;

use super::config::DataLayout;
use crate::model::{GroupMemberSpec, role};
use crate::sdk::{ConnectionState, SdkConfig, SendParams, Tim, TimEvent};
use crate::usersig::{self, AppKey};

pub const DEMO_USERS: [&str; 4] = ["alice", "bob", "carol", "xiaoming"];
pub const ECHO_BOT: &str = "echo";
pub const WORK_GROUP: &str = "team";
pub const PUBLIC_GROUP: &str = "lounge";

/// The embedded server to seed or to answer on.
struct Target<'a> {
    url: &'a str,
    layout: &'a DataLayout,
    key: AppKey,
}

impl<'a> Target<'a> {
    fn new(url: &'a str, layout: &'a DataLayout) -> anyhow::Result<Self> {
        let key =
            AppKey::load(&layout.server_dir()).context("reading the embedded server's key")?;
        Ok(Self { url, layout, key })
    }
}

async fn login_as(target: &Target<'_>, user: &str) -> anyhow::Result<Tim> {
    let sig = usersig::gen_sig(&target.key, user, usersig::DEFAULT_EXPIRE_SECS);
    let config = SdkConfig {
        server_url: target.url.to_string(),
        data_dir: target.layout.root.join("demo"),
        ca_cert_pem: None,
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

/// Create the demo users, groups and history on the embedded server at `url`, for `me`
/// (the user whose termim started it; `None`: only the demo users' own history).
/// Idempotent enough to rerun: an existing group id is skipped.
pub async fn seed(url: &str, layout: &DataLayout, me: Option<&str>) -> anyhow::Result<()> {
    let target = Target::new(url, layout)?;
    // Without a user of its own, the demo is seeded as if alice had started it.
    let me = me.unwrap_or("alice").to_string();
    let alice = login_as(&target, "alice").await?;
    let bob = login_as(&target, "bob").await?;
    let carol = login_as(&target, "carol").await?;
    let xiaoming = login_as(&target, "xiaoming").await?;
    let echo = login_as(&target, ECHO_BOT).await?;
    // The user who started the embedded server gets an account now (as a first login
    // would), so the Work group can have them as a member.
    let mine = if DEMO_USERS.contains(&me.as_str()) || me == ECHO_BOT {
        None
    } else {
        Some(login_as(&target, &me).await?)
    };

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
        // The user joins the Public group themselves, as anyone can.
        if let Some(tim) = &mine {
            let _ = tim.join_group(PUBLIC_GROUP, "").await;
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
    for tim in [alice, bob, carol, xiaoming, echo].into_iter().chain(mine) {
        let _ = tim.logout().await;
    }
    Ok(())
}

/// The echo bot: logged in on the embedded server, answering every one-to-one message.
pub struct EchoBot {
    tim: Tim,
    task: tokio::task::JoinHandle<()>,
}

impl EchoBot {
    /// Connections the bot holds on the server (not clients keeping it busy).
    pub fn connections(&self) -> usize {
        usize::from(self.tim.connection_state() == ConnectionState::Connected)
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.tim.logout().await;
    }
}

/// Start the echo bot on the embedded server at `url`.
pub async fn spawn_echo_bot(url: &str, layout: &DataLayout) -> anyhow::Result<EchoBot> {
    let target = Target::new(url, layout)?;
    let bot = login_as(&target, ECHO_BOT).await?;
    let mut events = bot.add_listener();
    let tim = bot.clone();
    let task = tokio::spawn(async move {
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
    });
    Ok(EchoBot { tim, task })
}
