//! One OTLP/gRPC unary call whose request message is shared across retries.
//!
//! The generated clients take the request by value, so a retrying caller must clone the whole
//! `Export*ServiceRequest` (every span, attribute and string) before each attempt, the first
//! included: a deep copy and a second deep drop per export. Here the message travels as an
//! `Arc` and the codec encodes it by reference (the same protobuf bytes the generated client's
//! prost codec writes); the response is decoded as the generated client does.

use prost::Message;
use std::marker::PhantomData;
use std::sync::Arc;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::codegen::GrpcMethod;
use tonic::transport::Channel;
use tonic::Status;

/// Encodes an `Arc<Req>` with prost, decodes `Resp` with prost.
struct SharedCodec<Req, Resp>(PhantomData<fn(Req) -> Resp>);

struct SharedEncoder<Req>(PhantomData<fn(Req)>);
struct PlainDecoder<Resp>(PhantomData<fn() -> Resp>);

impl<Req: Message + 'static> Encoder for SharedEncoder<Req> {
    type Item = Arc<Req>;
    type Error = Status;
    fn encode(&mut self, item: Arc<Req>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        item.encode(dst)
            .map_err(|e| Status::internal(format!("encoding the request: {e}")))
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

impl<Req, Resp> Codec for SharedCodec<Req, Resp>
where
    Req: Message + Send + Sync + 'static,
    Resp: Message + Default + Send + 'static,
{
    type Encode = Arc<Req>;
    type Decode = Resp;
    type Encoder = SharedEncoder<Req>;
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

/// Sends `request` (its message shared, not copied) as one unary call, like the generated
/// client's `export`.
pub(crate) async fn unary<Req, Resp>(
    channel: Channel,
    compression: Option<tonic::codec::CompressionEncoding>,
    method: &Method,
    mut request: tonic::Request<Arc<Req>>,
) -> Result<Resp, Status>
where
    Req: Message + Send + Sync + 'static,
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
    let codec = SharedCodec::<Req, Resp>(PhantomData);
    grpc.unary(request, PathAndQuery::from_static(method.path), codec)
        .await
        .map(tonic::Response::into_inner)
}
