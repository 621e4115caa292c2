import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import { ProblemDetailsDto } from './problem-details.dto';

/** Security scheme name: `@ApiBearerAuth(OPENAPI_BEARER_SCHEME)` on controllers that need a token. */
export const OPENAPI_BEARER_SCHEME = 'bearer';

export interface OpenApiOptions {
  readonly title: string;
  readonly version: string;
  /** Where the UI is served, without slashes, e.g. `docs`; the document is at `<path>/openapi.json`. */
  readonly path: string;
  readonly description?: string;
}

/**
 * Builds the OpenAPI document from the app's controllers and serves Swagger UI at `/<path>` and
 * the JSON document at `/<path>/openapi.json`. Declares the JWT bearer scheme and the problem
 * details schema every error response uses. Call after create, before listen.
 */
export function setupOpenApi(app: INestApplication, options: OpenApiOptions): OpenAPIObject {
  const path = options.path.replace(/^\/+|\/+$/g, '');
  if (path === '') throw new Error('setupOpenApi: path must not be empty');
  const config = new DocumentBuilder()
    .setTitle(options.title)
    .setDescription(options.description ?? '')
    .setVersion(options.version)
    .addBearerAuth(
      { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A JWT in the Authorization header: `Authorization: Bearer <token>`' },
      OPENAPI_BEARER_SCHEME,
    )
    .build();
  const document = SwaggerModule.createDocument(app, config, { extraModels: [ProblemDetailsDto] });
  SwaggerModule.setup(path, app, document, {
    jsonDocumentUrl: `${path}/openapi.json`,
    raw: ['json'],
  });
  return document;
}
