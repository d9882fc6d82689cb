//! A proptest state machine over memberships: random sequences of invite, accept, change
//! role, remove, leave and transfer, sent over HTTP by random members. After every step the
//! server must agree with a model that applies the rules, and the invariants must hold:
//! exactly one owner, no duplicate membership, no role granted above the granter's.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::json;

use rolegate::authz::Role;

use crate::common::{Backend, TestApp, User};

const USERS: usize = 5;

#[derive(Clone, Debug)]
enum Op {
    Invite {
        actor: usize,
        who: usize,
        collaborator: bool,
    },
    Accept {
        who: usize,
    },
    SetRole {
        actor: usize,
        target: usize,
        collaborator: bool,
    },
    Remove {
        actor: usize,
        target: usize,
    },
    Transfer {
        actor: usize,
        to: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let user = 0..USERS;
    prop_oneof![
        3 => (user.clone(), user.clone(), any::<bool>()).prop_map(|(actor, who, collaborator)| Op::Invite { actor, who, collaborator }),
        3 => user.clone().prop_map(|who| Op::Accept { who }),
        2 => (user.clone(), user.clone(), any::<bool>()).prop_map(|(actor, target, collaborator)| Op::SetRole { actor, target, collaborator }),
        2 => (user.clone(), user.clone()).prop_map(|(actor, target)| Op::Remove { actor, target }),
        1 => (user.clone(), user).prop_map(|(actor, to)| Op::Transfer { actor, to }),
    ]
}

fn granted(collaborator: bool) -> Role {
    if collaborator {
        Role::Collaborator
    } else {
        Role::LimitedCollaborator
    }
}

fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 2,
        Role::Collaborator => 1,
        Role::LimitedCollaborator => 0,
    }
}

/// What the rules say, kept beside the server.
#[derive(Default)]
struct Model {
    members: HashMap<usize, (Role, String)>,
    pending: HashMap<usize, (String, Role)>,
}

impl Model {
    fn role(&self, user: usize) -> Option<Role> {
        self.members.get(&user).map(|(r, _)| *r)
    }
}

async fn step(app: &TestApp, users: &[User], name: &str, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    match *op {
        Op::Invite {
            actor,
            who,
            collaborator,
        } => {
            let role = granted(collaborator);
            let may = model
                .role(actor)
                .is_some_and(|r| r.can(rolegate::authz::Permission::CollaboratorsInvite) && rank(role) <= rank(r))
                && model.role(who).is_none()
                && !model.pending.contains_key(&who);
            let body = json!({"email": users[who].email, "role": role.as_str()});
            let resp = app
                .post(&format!("/v1/apps/{name}/invitations"), &users[actor].api_token, body)
                .await;
            prop_assert_eq!(resp.status.as_u16() == 201, may, "{:?}: {}", op, resp.text);
            if may {
                model
                    .pending
                    .insert(who, (resp.body["token"].as_str().unwrap().to_owned(), role));
            }
        }
        Op::Accept { who } => {
            let Some((token, role)) = model.pending.remove(&who) else {
                return Ok(());
            };
            let resp = app
                .post("/v1/invitations/accept", &users[who].api_token, json!({"token": token}))
                .await;
            if model.role(who).is_some() {
                prop_assert_eq!(resp.status.as_u16(), 409, "{:?}: {}", op, resp.text);
            } else {
                prop_assert_eq!(resp.status.as_u16(), 200, "{:?}: {}", op, resp.text);
                model
                    .members
                    .insert(who, (role, resp.body["id"].as_str().unwrap().to_owned()));
            }
        }
        Op::SetRole {
            actor,
            target,
            collaborator,
        } => {
            let role = granted(collaborator);
            let Some((target_role, id)) = model.members.get(&target).cloned() else {
                return Ok(());
            };
            let may = model
                .role(actor)
                .is_some_and(|r| r.can(rolegate::authz::Permission::CollaboratorsUpdateRole) && rank(role) <= rank(r))
                && target_role != Role::Owner
                && target != actor;
            let resp = app
                .patch(
                    &format!("/v1/apps/{name}/collaborators/{id}"),
                    &users[actor].api_token,
                    json!({"role": role.as_str()}),
                )
                .await;
            prop_assert_eq!(resp.status.is_success(), may, "{:?}: {}", op, resp.text);
            if may {
                model.members.insert(target, (role, id));
            }
        }
        Op::Remove { actor, target } => {
            let Some((target_role, id)) = model.members.get(&target).cloned() else {
                return Ok(());
            };
            let may = model
                .role(actor)
                .is_some_and(|r| actor == target || r.can(rolegate::authz::Permission::CollaboratorsRemove))
                && target_role != Role::Owner;
            let resp = app
                .delete(&format!("/v1/apps/{name}/collaborators/{id}"), &users[actor].api_token)
                .await;
            prop_assert_eq!(resp.status.as_u16() == 204, may, "{:?}: {}", op, resp.text);
            if may {
                model.members.remove(&target);
            }
        }
        Op::Transfer { actor, to } => {
            let may = model.role(actor) == Some(Role::Owner) && model.role(to).is_some() && to != actor;
            let resp = app
                .post(
                    &format!("/v1/apps/{name}/transfer"),
                    &users[actor].api_token,
                    json!({"user_id": users[to].id}),
                )
                .await;
            prop_assert_eq!(resp.status.is_success(), may, "{:?}: {}", op, resp.text);
            if may {
                let (_, actor_id) = model.members[&actor].clone();
                let (_, to_id) = model.members[&to].clone();
                model.members.insert(actor, (Role::Collaborator, actor_id));
                model.members.insert(to, (Role::Owner, to_id));
            }
        }
    }
    // The server agrees with the model, and the invariants hold.
    let owner = model
        .members
        .iter()
        .find(|(_, (r, _))| *r == Role::Owner)
        .map(|(u, _)| *u);
    prop_assert!(owner.is_some(), "no owner in the model");
    let listed = app
        .get(
            &format!("/v1/apps/{name}/collaborators"),
            &users[owner.unwrap()].api_token,
        )
        .await;
    prop_assert_eq!(listed.status.as_u16(), 200, "{}", listed.text);
    let mut server: Vec<(String, String)> = listed
        .items()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    server.sort();
    let mut expected: Vec<(String, String)> = model
        .members
        .iter()
        .map(|(u, (r, _))| (users[*u].email.clone(), r.as_str().to_owned()))
        .collect();
    expected.sort();
    prop_assert_eq!(&server, &expected, "after {:?}", op);
    prop_assert_eq!(server.iter().filter(|(_, r)| r == "owner").count(), 1);
    let mut emails: Vec<_> = server.iter().map(|(e, _)| e.clone()).collect();
    emails.dedup();
    prop_assert_eq!(emails.len(), server.len(), "a duplicate membership");
    Ok(())
}

fn run(backend: Backend) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, users) = rt.block_on(async {
        let app = TestApp::spawn(backend).await;
        let mut users = Vec::new();
        for i in 0..USERS {
            users.push(app.signup(&format!("user{i}@machine.test")).await);
        }
        (app, users)
    });
    let cases: u32 = std::env::var("ROLEGATE_STATE_MACHINE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let case = std::sync::atomic::AtomicU32::new(0);
    let steps = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&proptest::collection::vec(op(), 1..30), |ops| {
            let n = case.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            steps.fetch_add(ops.len(), std::sync::atomic::Ordering::Relaxed);
            rt.block_on(async {
                let name = format!("machine-{n}");
                app.create_app(&users[0], &name).await;
                let listed = app
                    .get(&format!("/v1/apps/{name}/collaborators"), &users[0].api_token)
                    .await;
                let owner_row = listed.items()[0]["id"].as_str().unwrap().to_owned();
                let mut model = Model::default();
                model.members.insert(0, (Role::Owner, owner_row));
                for op in &ops {
                    step(&app, &users, &name, &mut model, op).await?;
                }
                Ok(())
            })
        })
        .unwrap();
    println!("state machine: {case:?} sequences, {steps:?} steps, invariants held after each");
}

#[test]
fn membership_state_machine_sqlite() {
    run(Backend::Sqlite);
}

#[test]
fn membership_state_machine_postgres() {
    if let Some(backend) = Backend::postgres() {
        run(backend);
    }
}
