//! ListExecutions at scale on DynamoDB: a page of 100 out of 10,000 stored executions of one
//! machine queries the machine's listing shards for about the page's worth of index items, not
//! the other executions (counted by the adapter's request and item counters).

mod common;

use common::endpoint;
use std::time::Instant;
use stepwise_aws::dynamo::LIST_SHARDS;
use stepwise_aws::{create_table, DynamoStore};
use stepwise_runtime::contract::new_executions;
use stepwise_runtime::ports::{ExecutionQuery, ExecutionStatus, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_10000_executions_reads_about_the_page() {
    if endpoint().is_none() {
        return;
    }
    let sdk = stepwise_aws::sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&sdk);
    let table = common::unique("listing");
    create_table(&client, &table).await.expect("create_table");
    let store = DynamoStore::new(client, &table);
    let filled = Instant::now();
    // Written as their creations would be, 25 to a request (one create per execution takes
    // minutes on moto); the listing and its index are the same.
    let (machine_arn, commits) = new_executions("Big", 10_000);
    store.import(&machine_arn, &commits).await.expect("import");
    let newest_first: Vec<String> = commits.iter().rev().map(|c| c.execution.info.execution_arn.clone()).collect();
    let (other_arn, others) = new_executions("Other", 1_000);
    store.import(&other_arn, &others).await.expect("import");
    eprintln!("stored 11,000 executions in {:?}", filled.elapsed());

    stepwise_aws::reset_counts();
    let query = ExecutionQuery { machine_arn: machine_arn.clone(), status: None, limit: 100, page: None };
    let first = store.list_executions(&query).await.expect("list");
    let got: Vec<&str> = first.executions.iter().map(|e| e.execution_arn.as_str()).collect();
    assert_eq!(got, newest_first[..100].iter().map(String::as_str).collect::<Vec<_>>(), "the newest 100, newest first");
    let queries = stepwise_aws::request_counts().get("dynamodb.Query").copied().unwrap_or(0);
    let items = stepwise_aws::items_read().get("list_executions").copied().unwrap_or(0);
    eprintln!("a page of 100: {queries} queries, {items} index items read");
    assert!(queries >= LIST_SHARDS as u64 && queries <= 2 * LIST_SHARDS as u64, "{queries} queries");
    // Each shard is read a share at a time (ceil(101 / 8) + 1 = 14 items), so at most a share per
    // shard is read beyond the page.
    assert!(items <= 101 + 14 * LIST_SHARDS as u64, "read {items} index items for a page of 100 out of 10,000");

    // The next page goes on after the first, also while executions are added.
    let (_, newer) = new_executions("Big", 5);
    let newer: Vec<_> = newer
        .into_iter()
        .map(|mut c| {
            let name = format!("later-{}", c.execution.info.name);
            c.execution.info = stepwise_asl::stepper::ExecutionInfo::new(
                "123456789012",
                "us-east-1",
                "Big",
                &name,
                "arn:aws:iam::123456789012:role/contract",
                false,
            );
            c
        })
        .collect();
    for c in newer {
        store.create(&machine_arn, c).await.expect("create");
    }
    let second =
        store.list_executions(&ExecutionQuery { page: first.next.clone(), ..query.clone() }).await.expect("page 2");
    let got: Vec<&str> = second.executions.iter().map(|e| e.execution_arn.as_str()).collect();
    assert_eq!(got, newest_first[100..200].iter().map(String::as_str).collect::<Vec<_>>());

    // A status filter pages too (it reads what it skips: documented).
    let running = store
        .list_executions(&ExecutionQuery { status: Some(ExecutionStatus::Running), limit: 10, ..query })
        .await
        .expect("running");
    assert_eq!(running.executions.len(), 10);
    assert!(running.executions.iter().all(|e| e.status == ExecutionStatus::Running));
}
