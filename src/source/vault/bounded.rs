//! tenantgen's own request path to Vault: the same vaultrs endpoints, sent
//! through a client that reads each answer in chunks and stops at
//! [`MAX_INPUT_BYTES`](crate::source::MAX_INPUT_BYTES), the cap on users
//! input. vaultrs reads whole bodies with no limit, so a server (or an
//! address the repository chose) could otherwise make tenantgen hold a
//! body of any size.

use std::fmt;

use async_trait::async_trait;
use rustify::client::Client as RestClient;
use rustify::endpoint::Endpoint;
use rustify::errors::ClientError as RestError;
use vaultrs::api::{AuthInfo, EndpointError, EndpointMiddleware, EndpointResult};
use vaultrs::client::VaultClient;
use vaultrs::error::ClientError;

use crate::source::MAX_INPUT_BYTES;

/// A Vault answer longer than the cap; the request was abandoned.
#[derive(Debug)]
pub struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the answer is larger than {} MB, the most tenantgen reads",
            MAX_INPUT_BYTES / (1024 * 1024)
        )
    }
}

impl std::error::Error for TooLarge {}

/// The HTTP side: vaultrs's configured reqwest client (TLS, CA, timeout)
/// with a bounded read of each body.
struct Http {
    http: reqwest::Client,
    base: String,
}

#[async_trait]
impl RestClient for Http {
    fn base(&self) -> &str {
        &self.base
    }

    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, RestError> {
        let request = reqwest::Request::try_from(req)
            .map_err(|source| RestError::ReqwestBuildError { source })?;
        let url = request.url().to_string();
        let method = request.method().to_string();
        let mut response =
            self.http
                .execute(request)
                .await
                .map_err(|err| RestError::RequestError {
                    source: err.into(),
                    url,
                    method,
                })?;
        let too_large = || RestError::ResponseError {
            source: anyhow::Error::new(TooLarge),
        };
        if response
            .content_length()
            .is_some_and(|length| length > MAX_INPUT_BYTES)
        {
            return Err(too_large());
        }
        let mut answer = http::Response::builder().status(response.status().as_u16());
        for (name, value) in response.headers() {
            answer = answer.header(name, value);
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|err| RestError::ResponseError { source: err.into() })?
        {
            if (body.len() + chunk.len()) as u64 > MAX_INPUT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        answer
            .body(body)
            .map_err(|err| RestError::ResponseError { source: err.into() })
    }
}

/// A Vault connection: the bounded client and vaultrs's middleware (API
/// version, token, namespace).
pub struct Connection {
    http: Http,
    middle: EndpointMiddleware,
}

impl Connection {
    pub fn new(client: VaultClient) -> Connection {
        Connection {
            http: Http {
                http: client.http.http,
                base: client.http.base,
            },
            middle: client.middle,
        }
    }

    pub fn set_token(&mut self, token: &str) {
        self.middle.token = token.to_string();
    }

    /// An endpoint's `data`, as `vaultrs::api::exec_with_result` returns it.
    pub async fn data<E: Endpoint>(&self, endpoint: E) -> Result<E::Response, ClientError> {
        endpoint
            .with_middleware(&self.middle)
            .exec(&self.http)
            .await
            .map_err(api_error)?
            .wrap::<EndpointResult<_>>()
            .map_err(ClientError::from)?
            .data
            .ok_or(ClientError::ResponseDataEmptyError)
    }

    /// A login's `auth`, as `vaultrs::api::auth` returns it.
    pub async fn auth<E: Endpoint<Response = ()>>(
        &self,
        endpoint: E,
    ) -> Result<AuthInfo, ClientError> {
        let result: EndpointResult<()> = endpoint
            .with_middleware(&self.middle)
            .exec(&self.http)
            .await
            .map_err(api_error)?
            .wrap::<EndpointResult<_>>()
            .map_err(ClientError::from)?;
        result.auth.ok_or(ClientError::ResponseEmptyError)
    }
}

/// Vault's `errors` list as `ClientError::APIError`, as vaultrs reads it.
fn api_error(err: RestError) -> ClientError {
    if let RestError::ServerResponseError {
        code,
        content: Some(content),
    } = &err
        && let Ok(api) = serde_json::from_str::<EndpointError>(content)
    {
        return ClientError::APIError {
            code: *code,
            errors: api.errors,
        };
    }
    ClientError::from(err)
}
