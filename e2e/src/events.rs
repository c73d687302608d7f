//! The security events a scenario waits for: an SQS queue subscribed to the stack's topic, read until the
//! expected event arrives or a deadline passes.

use crate::{unique, Stack};
use serde_json::Value;
use std::time::{Duration, Instant};

/// A queue that receives every event the stack publishes from now on.
pub struct Inbox {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
    /// Every event received so far: a message read while waiting for another stays invisible on the queue,
    /// so it is kept here for the next wait.
    seen: std::sync::Mutex<Vec<Value>>,
}

fn sdk(what: &str) -> impl Fn(String) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Inbox {
    pub async fn subscribe(stack: &Stack) -> Result<Inbox, String> {
        let config = stack.sdk_config().await;
        let (sqs, sns) = (
            aws_sdk_sqs::Client::new(&config),
            aws_sdk_sns::Client::new(&config),
        );
        let queue = sqs
            .create_queue()
            .queue_name(unique("security-events"))
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(sdk("creating the queue"))?;
        let queue_url = queue
            .queue_url()
            .ok_or("CreateQueue answered without a QueueUrl")?
            .to_string();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(sdk("reading the queue's ARN"))?;
        let arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .ok_or("GetQueueAttributes answered without a QueueArn")?
            .clone();
        sns.subscribe()
            .topic_arn(stack.output(riv_infra::names::output::LOGIN_FAILED_TOPIC)?)
            .protocol("sqs")
            .endpoint(arn)
            .send()
            .await
            .map_err(|e| format!("{e:?}"))
            .map_err(sdk("subscribing the queue to the topic"))?;
        Ok(Inbox {
            sqs,
            queue_url,
            seen: std::sync::Mutex::new(Vec::new()),
        })
    }

    /// Waits up to `within` for an event named `event` about `user`, and returns it.
    pub async fn wait_for(
        &self,
        event: &str,
        user: &str,
        within: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + within;
        let matches =
            |published: &Value| published["Event"] == event && published["UserId"] == user;
        let earlier = self
            .seen
            .lock()
            .map_err(|_| "the inbox's buffer was poisoned by a panic".to_string())?
            .iter()
            .find(|p| matches(p))
            .cloned();
        if let Some(published) = earlier {
            return Ok(published);
        }
        while Instant::now() < deadline {
            let got = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .wait_time_seconds(1)
                .max_number_of_messages(10)
                .send()
                .await
                .map_err(|e| format!("{e:?}"))
                .map_err(sdk("receiving from the queue"))?;
            // Every message of the batch is kept before answering, the ones after a match included.
            let mut found = None;
            for message in got.messages() {
                let body = message.body().ok_or("a message without a body")?;
                let envelope: Value = serde_json::from_str(body)
                    .map_err(|e| format!("an SNS envelope that is not JSON ({e}): {body}"))?;
                let text = envelope["Message"]
                    .as_str()
                    .ok_or_else(|| format!("an SNS envelope without a Message: {envelope}"))?;
                let published: Value = serde_json::from_str(text)
                    .map_err(|e| format!("an event that is not JSON ({e}): {text}"))?;
                self.seen
                    .lock()
                    .map_err(|_| "the inbox's buffer was poisoned by a panic".to_string())?
                    .push(published.clone());
                if found.is_none() && matches(&published) {
                    found = Some(published);
                }
            }
            if let Some(published) = found {
                return Ok(published);
            }
        }
        Err(format!(
            "no {event} event for {user} arrived within {within:?}"
        ))
    }
}
