export * from './read-models.schema';
