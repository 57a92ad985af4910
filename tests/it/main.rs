//! Integration tests: every capability end to end against real services, on both storage
//! backends (SQLite and the PostgreSQL on 127.0.0.1:5432).

#![allow(unreachable_pub)]

mod common;

mod analytics;
mod campaigns;
mod channels;
mod cli;
mod customer_view;
mod import;
mod migrations;
mod segments;
mod support;
mod templates;
mod tracking;
