//! One OTLP/gRPC unary call whose request is shared across retries.
//!
//! The generated clients take the request by value, so a retrying caller must clone the whole
//! `Export*ServiceRequest` (every span, attribute and string) before each attempt, the first
//! included: a deep copy and a second deep drop per export. Here the request travels as a
//! [`Body`]: a message in an `Arc` that the codec encodes by reference (the same protobuf bytes
//! the generated client's prost codec writes), or bytes encoded in advance; the response is
//! decoded as the generated client does.

use prost::Message;
use std::marker::PhantomData;
use std::sync::Arc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::GrpcMethod;
use tonic::transport::Channel;
use tonic::Status;

/// A request body: cheap to clone for a retry, written into the call's buffer.
pub(crate) trait Body: Send + Sync + 'static {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status>;
}

/// A generated message, encoded by prost.
impl<M: Message + 'static> Body for Arc<M> {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        self.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the request: {e}")))
    }
}

/// A message's protobuf bytes, encoded in advance.
impl Body for bytes::Bytes {
    fn write(&self, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        use bytes::BufMut;
        dst.put_slice(self);
        Ok(())
    }
}

/// Writes a [`Body`], decodes `Resp` with prost.
struct SharedCodec<B, Resp>(PhantomData<fn(B) -> Resp>);

struct SharedEncoder<B>(PhantomData<fn(B)>);
struct PlainDecoder<Resp>(PhantomData<fn() -> Resp>);

impl<B: Body> Encoder for SharedEncoder<B> {
    type Item = B;
    type Error = Status;
    fn encode(&mut self, item: B, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.write(dst)
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

impl<B, Resp> Codec for SharedCodec<B, Resp>
where
    B: Body,
    Resp: Message + Default + Send + 'static,
{
    type Encode = B;
    type Decode = Resp;
    type Encoder = SharedEncoder<B>;
    type Decoder = PlainDecoder<Resp>;
    fn encoder(&mut self) -> Self::Encoder {
        SharedEncoder(PhantomData)
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

/// Sends `request` (its body shared, not copied) as one unary call, like the generated
/// client's `export`.
pub(crate) async fn unary<B, Resp>(
    channel: Channel,
    compression: Option<tonic::codec::CompressionEncoding>,
    method: &Method,
    mut request: tonic::Request<B>,
) -> Result<Resp, Status>
where
    B: Body,
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
    let codec = SharedCodec::<B, Resp>(PhantomData);
    grpc.unary(request, PathAndQuery::from_static(method.path), codec)
        .await
        .map(tonic::Response::into_inner)
}
