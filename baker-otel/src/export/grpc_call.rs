//! One OTLP/gRPC unary call whose request is shared across retries.
//!
//! The generated clients take the request by value, so a retrying caller must clone the whole
//! `Export*ServiceRequest` (every span, attribute and string) before each attempt, the first
//! included: a deep copy and a second deep drop per export. Here the request travels as its
//! protobuf bytes, encoded once in advance ([`proto`](super::proto)) and shared by the attempts
//! (`Bytes`); the response is decoded as the generated client does.

use bytes::{BufMut, Bytes};
use prost::Message;
use std::marker::PhantomData;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::GrpcMethod;
use tonic::transport::Channel;
use tonic::Status;

/// Writes the request's bytes, decodes `Resp` with prost.
struct SharedCodec<Resp>(PhantomData<fn() -> Resp>);

struct BytesEncoder;
struct PlainDecoder<Resp>(PhantomData<fn() -> Resp>);

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl<Resp: Message + Default + 'static> Decoder for PlainDecoder<Resp> {
    type Item = Resp;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Resp>, Status> {
        Resp::decode(src)
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl<Resp> Codec for SharedCodec<Resp>
where
    Resp: Message + Default + Send + 'static,
{
    type Encode = Bytes;
    type Decode = Resp;
    type Encoder = BytesEncoder;
    type Decoder = PlainDecoder<Resp>;
    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        PlainDecoder(PhantomData)
    }
}

/// A gRPC method of an OTLP collector service.
pub(crate) struct Method {
    pub(crate) service: &'static str,
    pub(crate) path: &'static str,
}

pub(crate) const TRACES: Method = Method {
    service: "opentelemetry.proto.collector.trace.v1.TraceService",
    path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
};

pub(crate) const LOGS: Method = Method {
    service: "opentelemetry.proto.collector.logs.v1.LogsService",
    path: "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
};

/// Sends `request` (the message's protobuf bytes, shared, not copied) as one unary call, like
/// the generated client's `export`.
pub(crate) async fn unary<Resp>(
    channel: Channel,
    compression: Option<tonic::codec::CompressionEncoding>,
    method: &Method,
    mut request: tonic::Request<Bytes>,
) -> Result<Resp, Status>
where
    Resp: Message + Default + Send + 'static,
{
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    if let Some(enc) = compression {
        grpc = grpc.send_compressed(enc);
    }
    grpc.ready()
        .await
        .map_err(|e| Status::unknown(format!("Service was not ready: {e}")))?;
    request
        .extensions_mut()
        .insert(GrpcMethod::new(method.service, "Export"));
    let codec = SharedCodec::<Resp>(PhantomData);
    grpc.unary(request, PathAndQuery::from_static(method.path), codec)
        .await
        .map(tonic::Response::into_inner)
}
