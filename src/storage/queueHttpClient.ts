import { createHttpHeaders, createPipelineRequest, type HttpClient } from "@azure/core-rest-pipeline";
import { toCompatResponse, type CompatResponse, type RequestPolicy, type WebResourceLike } from "@azure/core-http-compat";

/**
 * The queue SDK takes its HTTP client in the older core-http shape (StoragePipelineOptions
 * httpClient, one call per try like the tables SDK's): this hands each try to the same client the
 * tables use (observingHttpClient), so an instance's queue requests tell its StorageReachability
 * and clock what they saw, as its table requests do. Without them, the instance that runs the
 * follower drain, whose storage calls are mostly queue calls, did not know storage had been away
 * around a lost leader's slot, so the chunk's lookout waited for the followers (the storm bench: a
 * chunk written 27 s after its slot instead of one window).
 *
 * The answer carries the request the SDK sent, not the copy made here: its deserialization finds
 * the operation by that request.
 */
export function queueHttpClient(
  inner: HttpClient,
  /** Plain http allowed (Azurite): the older shape has no such flag, so it is given here, as the tables client is given it. */
  allowInsecureConnection = false,
): RequestPolicy {
  return {
    async sendRequest(resource: WebResourceLike): Promise<CompatResponse> {
      const request = createPipelineRequest({
        url: resource.url,
        method: resource.method,
        headers: createHttpHeaders(resource.headers.toJson({ preserveCase: true })),
        body: resource.body,
        timeout: resource.timeout,
        withCredentials: resource.withCredentials,
        requestId: resource.requestId,
        allowInsecureConnection,
        ...(resource.proxySettings ? { proxySettings: resource.proxySettings } : {}),
        ...(resource.agent ? { agent: resource.agent } : {}),
        ...(resource.abortSignal ? { abortSignal: resource.abortSignal } : {}),
        ...(resource.streamResponseStatusCodes ? { streamResponseStatusCodes: resource.streamResponseStatusCodes } : {}),
        ...(resource.onUploadProgress ? { onUploadProgress: resource.onUploadProgress } : {}),
        ...(resource.onDownloadProgress ? { onDownloadProgress: resource.onDownloadProgress } : {}),
      });
      const response = await inner.sendRequest(request);
      return { ...toCompatResponse(response), request: resource };
    },
  };
}
