//! `portal`: run and operate a Portal Federation node (see README.md and PRODUCT's interface).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Parser, Subcommand};
use portal_proto::api::federation::AddMember;
use portal_proto::api::paths;
use portal_proto::ids::{ItemId, Lang};
use portal_proto::record::WithdrawalState;
use portal_publisher::draft::{Draft, WithdrawRequest};
use portal_publisher::{DataDir, Node, Published};

mod bundle;
mod demo;
mod key;
mod restore;
mod verify;

/// Portal Federation: signed, verifiable government information portals.
#[derive(Parser, Debug)]
#[command(name = "portal", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a node: keys (0600), config, admin token (shown once).
    Init {
        /// Data directory to create (must not exist, or be empty).
        #[arg(long)]
        data: PathBuf,
        /// Node id: lowercase letters, digits, '-' and '.', e.g. bo-y-te.
        #[arg(long)]
        id: String,
        /// Display name (Vietnamese), e.g. "Bộ Y tế".
        #[arg(long)]
        name: String,
        /// Display name in English, e.g. "Ministry of Health".
        #[arg(long)]
        name_en: Option<String>,
        /// Public base URL, e.g. https://moh.gov.vn/portal (http:// for loopback).
        #[arg(long)]
        url: String,
    },
    /// Run the node until Ctrl-C or SIGTERM.
    Serve {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// Listen address (default: host and port of the node's URL). Port 0 picks a free port.
        #[arg(long)]
        listen: Option<String>,
        /// HTTP worker threads (default: one per CPU).
        #[arg(long)]
        workers: Option<usize>,
    },
    /// Sign and append a draft (JSON file, or - for standard input); print id, version, index.
    Publish {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The draft: a JSON file, or - to read standard input.
        file: String,
    },
    /// Withdraw an item with a public explanation.
    Withdraw {
        /// The node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The item id.
        item_id: String,
        /// Mandatory public explanation.
        #[arg(long)]
        explanation: String,
        /// withdrawn (still shown, marked), redirected, or gone.
        #[arg(long, default_value = "withdrawn")]
        state: String,
        /// Where readers go instead (with --state redirected).
        #[arg(long)]
        redirect: Option<String>,
    },
    /// Fetch an item's evidence bundle (record, signatures, proofs, checkpoint, key history),
    /// check it verifies, and write it to standard output or -o FILE.
    Bundle(bundle::BundleArgs),
    /// Run a demo federation on 127.0.0.1: a central node and three ministries, seeded with
    /// bilingual content, until Ctrl-C.
    Demo {
        /// Keep the demo in this directory (restarted without re-seeding when it holds one);
        /// default: a temporary directory removed on exit.
        #[arg(long)]
        data: Option<PathBuf>,
        /// The central's port; the ministries take the next three (default 8080). 0 picks free
        /// ports.
        #[arg(long)]
        port: Option<u16>,
    },
    /// Give a stopped node back the log entries its store lost, from the central node's copy
    /// (verified against this node's own keys; nothing is signed again). See deploy/RUNBOOK.md.
    Restore {
        /// The node's data directory (keys and config must be there).
        #[arg(long)]
        data: PathBuf,
        /// The central node's base URL, e.g. https://portal.gov.vn.
        #[arg(long)]
        from: String,
        /// The node's id on the central node (default: this node's id).
        #[arg(long)]
        member: Option<String>,
        /// Allow a central node on a loopback or private address (test federations only).
        #[arg(long)]
        allow_private: bool,
        /// Entries per request (1-1000).
        #[arg(long, default_value_t = 1000)]
        page_size: u32,
    },
    /// The node's signing key: rotate it (on a stopped node).
    Key {
        #[command(subcommand)]
        action: key::KeyCommand,
    },
    /// The roster of a node that aggregates others (the central node, a province).
    Member {
        #[command(subcommand)]
        action: MemberCommand,
    },
    /// Verify a feed, a node's log, an item or a record against the publishers' keys.
    Verify(verify::VerifyArgs),
}

#[derive(Subcommand, Debug)]
enum MemberCommand {
    /// Fetch a node's descriptor, show its id, name and key, pin it and sign a new roster.
    Add {
        /// This (aggregating) node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The member's base URL (its descriptor is at URL/.well-known/portal-node).
        url: String,
        /// The member's public key (base64), checked out of band; refused if the descriptor
        /// is signed by another key. Without it, the key found is pinned: check its
        /// fingerprint with the member.
        #[arg(long)]
        pin: Option<String>,
    },
    /// List the members with their keys and how much of their logs is stored.
    List {
        /// This node's data directory.
        #[arg(long)]
        data: PathBuf,
    },
    /// Remove a member (records already ingested stay in the national log).
    Remove {
        /// This node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The member's node id.
        id: String,
    },
    /// Stop syncing a member, keeping its records and its place in the roster.
    Suspend {
        /// This node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The member's node id.
        id: String,
    },
    /// Resume syncing a suspended member.
    Activate {
        /// This node's data directory.
        #[arg(long)]
        data: PathBuf,
        /// The member's node id.
        id: String,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = match Cli::parse().command {
        Command::Bundle(args) => return bundle::bundle_command(args),
        command => Cli { command },
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Init { data, id, name, name_en, url } => {
            let mut names = BTreeMap::new();
            names.insert(Lang::new("vi")?, name);
            if let Some(en) = name_en {
                names.insert(Lang::new("en")?, en);
            }
            let done = portal_publisher::init(&DataDir::new(&data), &id, names, &url)?;
            println!("created node {id} in {}", data.display());
            println!("key id:      {}", done.key_id);
            println!(
                "public key:  {}  (give this to the central node's operators)",
                done.public_key
            );
            println!("admin token: {}", done.admin_token);
            println!(
                "             shown once and stored only as a hash: give it to your editors now."
            );
            println!("next: portal serve --data {}", data.display());
            Ok(())
        }
        Command::Serve { data, listen, workers } => {
            let dir = DataDir::new(&data);
            let node = Node::open(dir)
                .with_context(|| format!("opening the node in {}", data.display()))?;
            let listen = match listen {
                Some(l) => l,
                None => node.config.listen_addr().map_err(|e| anyhow!(e))?,
            };
            if let Some(reason) = node.refusal() {
                tracing::error!("serving read-only: {reason}");
            }
            runtime()?
                .block_on(portal_server::serve(node, &listen, workers))
                .with_context(|| format!("serving on {listen}"))
        }
        Command::Publish { data, file } => {
            // The data directory first: a wrong --data is the likelier mistake.
            portal_publisher::node::load_config(&DataDir::new(&data))?;
            let bytes = if file == "-" {
                let mut b = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut b)
                    .context("reading the draft from standard input")?;
                b
            } else {
                std::fs::read(&file).with_context(|| format!("reading the draft {file}"))?
            };
            let draft = Draft::from_json(&bytes).map_err(|fields| {
                anyhow!(
                    "the draft is not valid:\n{}",
                    fields.iter().map(|f| format!("  {f}")).collect::<Vec<_>>().join("\n")
                )
            })?;
            let published = submit(&data, Submission::Publish(Box::new(draft), bytes))?;
            println!(
                "published {} version {} at log index {}",
                published.id, published.version, published.log_index
            );
            Ok(())
        }
        Command::Withdraw { data, item_id, explanation, state, redirect } => {
            portal_publisher::node::load_config(&DataDir::new(&data))?;
            let id = ItemId::new(item_id)?;
            let state = match state.as_str() {
                "withdrawn" => WithdrawalState::Withdrawn,
                "redirected" => WithdrawalState::Redirected,
                "gone" => WithdrawalState::Gone,
                other => bail!("--state {other:?}: use withdrawn, redirected or gone"),
            };
            let req = WithdrawRequest { state, explanation, redirect };
            let published = submit(&data, Submission::Withdraw(id, req))?;
            println!(
                "withdrew {} (version {}) at log index {}",
                published.id, published.version, published.log_index
            );
            Ok(())
        }
        Command::Demo { data, port } => demo::run(data, port),
        Command::Member { action } => member(action),
        Command::Verify(args) => std::process::exit(verify::run(args)),
        Command::Bundle(_) => unreachable!("`portal bundle` is dispatched in main"),
        Command::Restore { data, from, member, allow_private, page_size } => {
            restore::run(restore::Restore { data, from, member, allow_private, page_size })
        }
        Command::Key { action } => key::run(action),
    }
}

/// `portal member …`: in-process when the node is stopped, through the running server's
/// operator API (with the local token) when it holds the store.
fn member(action: MemberCommand) -> Result<()> {
    use portal_aggregator::aggregate::{Aggregator, MemberView};
    use portal_proto::record::MemberStatus;
    let data = match &action {
        MemberCommand::Add { data, .. }
        | MemberCommand::List { data }
        | MemberCommand::Remove { data, .. }
        | MemberCommand::Suspend { data, .. }
        | MemberCommand::Activate { data, .. } => data.clone(),
    };
    let dir = DataDir::new(&data);
    portal_publisher::node::load_config(&dir)?;
    let show = |v: &MemberView| {
        let name = v.name.get("vi").or_else(|| v.name.values().next()).cloned().unwrap_or_default();
        println!("{}  {}  {}  [{}]  {} entries stored", v.id, name, v.url, v.status, v.size);
        for (kid, pk) in &v.keys {
            println!("    key {kid}  {pk}");
        }
    };
    match Node::open(dir.clone()) {
        Ok(node) => runtime()?.block_on(async {
            let agg = Aggregator::new(node).map_err(|e| anyhow!(e))?;
            match action {
                MemberCommand::Add { url, pin, .. } => {
                    let v = agg.add(&url, pin.as_deref()).await?;
                    println!("added and pinned:");
                    show(&v);
                    println!("the running node follows it from its next start");
                }
                MemberCommand::List { .. } => agg.list().iter().for_each(show),
                MemberCommand::Remove { id, .. } => {
                    agg.remove(&id)?;
                    println!("removed {id}");
                }
                MemberCommand::Suspend { id, .. } => {
                    show(&agg.set_status(&id, MemberStatus::Suspended)?)
                }
                MemberCommand::Activate { id, .. } => {
                    show(&agg.set_status(&id, MemberStatus::Active)?)
                }
            }
            Ok(())
        }),
        Err(portal_publisher::node::OpenError::Store(portal_store::StoreError::Locked(_))) => {
            let (base, token) = running_node(&dir)?;
            runtime()?.block_on(async {
                let client = reqwest::Client::builder().no_proxy().build()?;
                let admin = format!("{base}{}", paths::ADMIN_MEMBERS);
                let request = match &action {
                    MemberCommand::Add { url, pin, .. } => {
                        client.post(&admin).json(&AddMember { url: url.clone(), pin: pin.clone() })
                    }
                    MemberCommand::List { .. } => client.get(&admin),
                    MemberCommand::Remove { id, .. } => client.delete(format!("{admin}/{id}")),
                    MemberCommand::Suspend { id, .. } => {
                        client.post(format!("{admin}/{id}/suspend"))
                    }
                    MemberCommand::Activate { id, .. } => {
                        client.post(format!("{admin}/{id}/activate"))
                    }
                };
                let resp =
                    request.bearer_auth(token).send().await.with_context(|| {
                        format!("the node is running; sending to it at {admin}")
                    })?;
                let status = resp.status();
                let text = resp.text().await?;
                if !status.is_success() {
                    bail!("the node refused ({status}): {text}");
                }
                match action {
                    MemberCommand::List { .. } => {
                        let list: serde_json::Value = serde_json::from_str(&text)?;
                        for v in list["members"].as_array().into_iter().flatten() {
                            show(&serde_json::from_value(v.clone())?);
                        }
                    }
                    MemberCommand::Remove { id, .. } => println!("removed {id}"),
                    MemberCommand::Add { .. } => {
                        println!("added and pinned (the node follows it now):");
                        show(&serde_json::from_str(&text)?);
                    }
                    _ => show(&serde_json::from_str(&text)?),
                }
                Ok(())
            })
        }
        Err(e) => Err(e).with_context(|| format!("opening the node in {}", data.display())),
    }
}

/// The running server's base URL and the local token, for commands that reach it over HTTP.
fn running_node(dir: &DataDir) -> Result<(String, String)> {
    let config = portal_publisher::node::load_config(dir)?;
    let token = portal_publisher::local_token(dir).ok_or_else(|| {
        anyhow!("the node is running but {} is missing", dir.local_token().display())
    })?;
    let addr = match std::fs::read_to_string(dir.serve_addr()) {
        Ok(a) => a.trim().to_owned(),
        Err(_) => config.listen_addr().map_err(|e| anyhow!(e))?,
    };
    Ok((format!("http://{addr}"), token))
}

enum Submission {
    Publish(Box<Draft>, Vec<u8>),
    Withdraw(ItemId, WithdrawRequest),
}

/// Publish directly into the store when no server runs; through the running server's editor
/// API (with the local token) when one holds the store.
fn submit(data: &PathBuf, submission: Submission) -> Result<Published> {
    let dir = DataDir::new(data);
    match Node::open(dir.clone()) {
        Ok(node) => runtime()?.block_on(async {
            Ok(match submission {
                Submission::Publish(draft, _) => node.publish(*draft).await?,
                Submission::Withdraw(id, req) => node.withdraw(id, req).await?,
            })
        }),
        Err(portal_publisher::node::OpenError::Store(portal_store::StoreError::Locked(_))) => {
            let (base, token) = running_node(&dir)?;
            runtime()?.block_on(async {
                let client = reqwest::Client::builder().no_proxy().build()?;
                let (url, body) = match submission {
                    Submission::Publish(_, bytes) => (format!("{base}{}", paths::ITEMS), bytes),
                    Submission::Withdraw(id, req) => {
                        let url =
                            format!("{base}{}", paths::expand(paths::ITEM_WITHDRAW, id.as_str()));
                        (url, serde_json::to_vec(&req)?)
                    }
                };
                let resp = client
                    .post(&url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("the node is running; sending to it at {url}"))?;
                let status = resp.status();
                let text = resp.text().await?;
                if !status.is_success() {
                    bail!("the node refused ({status}): {text}");
                }
                Ok(serde_json::from_str::<Published>(&text)?)
            })
        }
        Err(e) => Err(e).with_context(|| format!("opening the node in {}", data.display())),
    }
}
