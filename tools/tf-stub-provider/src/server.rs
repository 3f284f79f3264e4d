//! The plugin protocol: go-plugin's handshake with AutoMTLS, then
//! tfplugin6's Provider service answering from a schema file.

use std::sync::Arc;

use anyhow::{Context, Result};
use base64::Engine;
use rmpv::Value;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

use crate::controller::Empty;
use crate::controller::grpc_controller_server::{GrpcController, GrpcControllerServer};
use crate::schema::{self, Body, ProviderSchema};
use crate::state::{self, PathStep};
use crate::tfplugin6 as tf;
use crate::tfplugin6::provider_server::{Provider, ProviderServer};

/// go-plugin's core protocol version and the Terraform protocol we speak.
const HANDSHAKE_PREFIX: &str = "1|6|tcp";

struct Stub {
    schema: ProviderSchema,
    shutdown: tokio::sync::mpsc::Sender<()>,
}

/// Serves `schema` until Terraform shuts the plugin down.
pub async fn serve(schema: ProviderSchema) -> Result<()> {
    // Builds that also enable rustls's aws-lc-rs backend (through other
    // crates of the workspace) leave the choice to us.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot listen on loopback")?;
    let address = listener.local_addr()?;
    let (tls, certificate) = tls_config()?;
    let (shutdown, mut shutdown_requested) = tokio::sync::mpsc::channel(1);
    let stub = Arc::new(Stub { schema, shutdown });
    let mut server = Server::builder();
    if let Some(tls) = tls {
        server = server.tls_config(tls)?;
    }
    let serving = server
        .add_service(ProviderServer::new(Arc::clone(&stub)))
        .add_service(GrpcControllerServer::new(Arc::clone(&stub)))
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async move {
            shutdown_requested.recv().await;
        });
    // The handshake line tells Terraform where to connect and which certificate to trust.
    println!(
        "{HANDSHAKE_PREFIX}|{address}|grpc|{}",
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(certificate)
    );
    serving.await.context("the plugin server failed")
}

/// With AutoMTLS (Terraform passes its client certificate in
/// `PLUGIN_CLIENT_CERT`), a fresh self-signed server certificate.
fn tls_config() -> Result<(Option<ServerTlsConfig>, Vec<u8>)> {
    let client_cert = std::env::var("PLUGIN_CLIENT_CERT").unwrap_or_default();
    if client_cert.is_empty() {
        return Ok((None, Vec::new()));
    }
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_string()])?;
    let mut name = rcgen::DistinguishedName::new();
    name.push(rcgen::DnType::OrganizationName, "HashiCorp");
    name.push(rcgen::DnType::CommonName, "localhost");
    params.distinguished_name = name;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyEncipherment,
        rcgen::KeyUsagePurpose::KeyAgreement,
        rcgen::KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let certificate = params.self_signed(&key)?;
    // Terraform's Go TLS client does not always present its certificate
    // (it picks one by the server's CA list); go-plugin servers accept that.
    let tls = ServerTlsConfig::new()
        .client_ca_root(Certificate::from_pem(client_cert))
        .client_auth_optional(true)
        .identity(Identity::from_pem(certificate.pem(), key.serialize_pem()));
    Ok((Some(tls), certificate.der().to_vec()))
}

fn error(summary: impl Into<String>) -> tf::Diagnostic {
    tf::Diagnostic {
        severity: tf::diagnostic::Severity::Error as i32,
        summary: summary.into(),
        ..Default::default()
    }
}

fn msgpack(value: &Value) -> Option<tf::DynamicValue> {
    Some(tf::DynamicValue {
        msgpack: state::encode(value),
        json: Vec::new(),
    })
}

/// A request's value; JSON is not what Terraform sends for these calls.
fn value_of(dynamic: Option<&tf::DynamicValue>) -> Result<Value, tf::Diagnostic> {
    match dynamic {
        None => Ok(Value::Nil),
        Some(dynamic) => state::decode(&dynamic.msgpack).map_err(|err| error(format!("{err:#}"))),
    }
}

fn path_proto(path: &[PathStep]) -> tf::AttributePath {
    use tf::attribute_path::step::Selector;
    tf::AttributePath {
        steps: path
            .iter()
            .map(|step| tf::attribute_path::Step {
                selector: Some(match step {
                    PathStep::Attribute(name) => Selector::AttributeName(name.clone()),
                    PathStep::Index(index) => Selector::ElementKeyInt(*index as i64),
                }),
            })
            .collect(),
    }
}

impl Stub {
    fn resource(&self, type_name: &str) -> Result<&Body, tf::Diagnostic> {
        self.schema.resources.get(type_name).ok_or_else(|| {
            error(format!(
                "resource type {type_name} is not in the {} {} schema",
                self.schema.source, self.schema.version
            ))
        })
    }
}

#[tonic::async_trait]
impl Provider for Arc<Stub> {
    async fn get_metadata(
        &self,
        _request: Request<tf::get_metadata::Request>,
    ) -> Result<Response<tf::get_metadata::Response>, Status> {
        Ok(Response::new(tf::get_metadata::Response {
            server_capabilities: Some(tf::ServerCapabilities::default()),
            resources: self
                .schema
                .resources
                .keys()
                .map(|name| tf::get_metadata::ResourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            data_sources: self
                .schema
                .data_sources
                .keys()
                .map(|name| tf::get_metadata::DataSourceMetadata {
                    type_name: name.clone(),
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn get_provider_schema(
        &self,
        _request: Request<tf::get_provider_schema::Request>,
    ) -> Result<Response<tf::get_provider_schema::Response>, Status> {
        Ok(Response::new(tf::get_provider_schema::Response {
            provider: Some(schema::to_proto(&self.schema.provider)),
            resource_schemas: self
                .schema
                .resources
                .iter()
                .map(|(name, body)| (name.clone(), schema::to_proto(body)))
                .collect(),
            data_source_schemas: self
                .schema
                .data_sources
                .iter()
                .map(|(name, body)| (name.clone(), schema::to_proto(body)))
                .collect(),
            server_capabilities: Some(tf::ServerCapabilities::default()),
            ..Default::default()
        }))
    }

    async fn validate_provider_config(
        &self,
        _request: Request<tf::validate_provider_config::Request>,
    ) -> Result<Response<tf::validate_provider_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    /// Terraform has already checked the configuration against the schema.
    async fn validate_resource_config(
        &self,
        request: Request<tf::validate_resource_config::Request>,
    ) -> Result<Response<tf::validate_resource_config::Response>, Status> {
        let diagnostics = self
            .resource(&request.into_inner().type_name)
            .err()
            .into_iter()
            .collect();
        Ok(Response::new(tf::validate_resource_config::Response {
            diagnostics,
        }))
    }

    async fn validate_data_resource_config(
        &self,
        _request: Request<tf::validate_data_resource_config::Request>,
    ) -> Result<Response<tf::validate_data_resource_config::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    /// Schema version 0 throughout: the stored state is already current.
    async fn upgrade_resource_state(
        &self,
        request: Request<tf::upgrade_resource_state::Request>,
    ) -> Result<Response<tf::upgrade_resource_state::Response>, Status> {
        let request = request.into_inner();
        let json = request.raw_state.map(|raw| raw.json).unwrap_or_default();
        Ok(Response::new(tf::upgrade_resource_state::Response {
            upgraded_state: Some(tf::DynamicValue {
                msgpack: Vec::new(),
                json,
            }),
            diagnostics: Vec::new(),
        }))
    }

    async fn configure_provider(
        &self,
        _request: Request<tf::configure_provider::Request>,
    ) -> Result<Response<tf::configure_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    /// The remote object is exactly what was stored: nothing drifts.
    async fn read_resource(
        &self,
        request: Request<tf::read_resource::Request>,
    ) -> Result<Response<tf::read_resource::Response>, Status> {
        let request = request.into_inner();
        Ok(Response::new(tf::read_resource::Response {
            new_state: request.current_state,
            diagnostics: Vec::new(),
            private: request.private,
        }))
    }

    async fn plan_resource_change(
        &self,
        request: Request<tf::plan_resource_change::Request>,
    ) -> Result<Response<tf::plan_resource_change::Response>, Status> {
        let request = request.into_inner();
        let planned = (|| {
            let body = self.resource(&request.type_name)?;
            let prior = value_of(request.prior_state.as_ref())?;
            let mut proposed = value_of(request.proposed_new_state.as_ref())?;
            if matches!(proposed, Value::Nil) {
                // Destroy.
                return Ok((proposed, Vec::new()));
            }
            if matches!(prior, Value::Nil) {
                state::plan_computed(body, &mut proposed);
                return Ok((proposed, Vec::new()));
            }
            let replace = state::replacement_paths(&request.type_name, body, &prior, &proposed);
            Ok((proposed, replace))
        })();
        let response = match planned {
            Ok((planned, replace)) => tf::plan_resource_change::Response {
                planned_state: msgpack(&planned),
                requires_replace: replace.iter().map(|path| path_proto(path)).collect(),
                planned_private: request.prior_private,
                ..Default::default()
            },
            Err(diagnostic) => tf::plan_resource_change::Response {
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn apply_resource_change(
        &self,
        request: Request<tf::apply_resource_change::Request>,
    ) -> Result<Response<tf::apply_resource_change::Response>, Status> {
        let request = request.into_inner();
        let applied = (|| {
            let body = self.resource(&request.type_name)?;
            let mut planned = value_of(request.planned_state.as_ref())?;
            let seed = state::seed(&request.type_name, &planned);
            state::fill_unknowns(body, &mut planned, &seed);
            Ok(planned)
        })();
        let response = match applied {
            Ok(new_state) => tf::apply_resource_change::Response {
                new_state: msgpack(&new_state),
                private: request.planned_private,
                ..Default::default()
            },
            Err(diagnostic) => tf::apply_resource_change::Response {
                diagnostics: vec![diagnostic],
                ..Default::default()
            },
        };
        Ok(Response::new(response))
    }

    async fn import_resource_state(
        &self,
        request: Request<tf::import_resource_state::Request>,
    ) -> Result<Response<tf::import_resource_state::Response>, Status> {
        let request = request.into_inner();
        let response = match self.resource(&request.type_name) {
            Ok(body) => tf::import_resource_state::Response {
                imported_resources: vec![tf::import_resource_state::ImportedResource {
                    state: msgpack(&state::imported(&request.type_name, body, &request.id)),
                    type_name: request.type_name,
                    private: Vec::new(),
                }],
                diagnostics: Vec::new(),
            },
            Err(diagnostic) => tf::import_resource_state::Response {
                imported_resources: Vec::new(),
                diagnostics: vec![diagnostic],
            },
        };
        Ok(Response::new(response))
    }

    /// The real providers at these versions cannot move state between
    /// resource types, so neither can the stub.
    async fn move_resource_state(
        &self,
        request: Request<tf::move_resource_state::Request>,
    ) -> Result<Response<tf::move_resource_state::Response>, Status> {
        let request = request.into_inner();
        Ok(Response::new(tf::move_resource_state::Response {
            diagnostics: vec![error(format!(
                "{} {} does not support moving state from {} to {}",
                self.schema.source,
                self.schema.version,
                request.source_type_name,
                request.target_type_name
            ))],
            ..Default::default()
        }))
    }

    /// A data source answers with its configuration, computed attributes filled.
    async fn read_data_source(
        &self,
        request: Request<tf::read_data_source::Request>,
    ) -> Result<Response<tf::read_data_source::Response>, Status> {
        let request = request.into_inner();
        let read = (|| {
            let body = self
                .schema
                .data_sources
                .get(&request.type_name)
                .ok_or_else(|| {
                    error(format!(
                        "data source {} is not in the schema",
                        request.type_name
                    ))
                })?;
            let mut value = value_of(request.config.as_ref())?;
            state::plan_computed(body, &mut value);
            let seed = state::seed(&request.type_name, &value);
            state::fill_unknowns(body, &mut value, &seed);
            Ok(value)
        })();
        let response = match read {
            Ok(value) => tf::read_data_source::Response {
                state: msgpack(&value),
                diagnostics: Vec::new(),
            },
            Err(diagnostic) => tf::read_data_source::Response {
                state: None,
                diagnostics: vec![diagnostic],
            },
        };
        Ok(Response::new(response))
    }

    async fn get_functions(
        &self,
        _request: Request<tf::get_functions::Request>,
    ) -> Result<Response<tf::get_functions::Response>, Status> {
        Ok(Response::new(Default::default()))
    }

    async fn call_function(
        &self,
        _request: Request<tf::call_function::Request>,
    ) -> Result<Response<tf::call_function::Response>, Status> {
        Err(Status::unimplemented("the stub provider has no functions"))
    }

    async fn stop_provider(
        &self,
        _request: Request<tf::stop_provider::Request>,
    ) -> Result<Response<tf::stop_provider::Response>, Status> {
        Ok(Response::new(Default::default()))
    }
}

#[tonic::async_trait]
impl GrpcController for Arc<Stub> {
    async fn shutdown(&self, _request: Request<Empty>) -> Result<Response<Empty>, Status> {
        let _ = self.shutdown.try_send(());
        Ok(Response::new(Empty {}))
    }
}
