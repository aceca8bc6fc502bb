package events

import (
	"fmt"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	ddb "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// Record is one record of the table's stream, whichever way it arrived: in
// a Lambda event (FromLambda) or from the DynamoDB Streams API, as the
// local poller and the redrive read it (FromStreams).
type Record struct {
	// SequenceNumber orders the records of one shard; Lambda retries a batch
	// from the one it is told failed.
	SequenceNumber string
	// EventName is INSERT, MODIFY or REMOVE.
	EventName string
	// Keys, OldImage and NewImage are the item's key and images.
	Keys, OldImage, NewImage map[string]ddb.AttributeValue
	// At is when the stream recorded the change (to the second): the time
	// of the changes whose items carry none (a member's removal by a
	// user's delete).
	At time.Time
}

// FromLambda converts the records of a Lambda DynamoDB stream event.
func FromLambda(ev lambdaevents.DynamoDBEvent) ([]Record, error) {
	out := make([]Record, 0, len(ev.Records))
	for _, r := range ev.Records {
		rec := Record{SequenceNumber: r.Change.SequenceNumber, EventName: r.EventName,
			At: r.Change.ApproximateCreationDateTime.UTC()}
		var err error
		if rec.Keys, err = lambdaImage(r.Change.Keys); err == nil {
			if rec.OldImage, err = lambdaImage(r.Change.OldImage); err == nil {
				rec.NewImage, err = lambdaImage(r.Change.NewImage)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("events: record %s: %w", r.Change.SequenceNumber, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func lambdaImage(m map[string]lambdaevents.DynamoDBAttributeValue) (map[string]ddb.AttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]ddb.AttributeValue, len(m))
	for k, v := range m {
		av, err := lambdaValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func lambdaValue(v lambdaevents.DynamoDBAttributeValue) (ddb.AttributeValue, error) {
	switch v.DataType() {
	case lambdaevents.DataTypeString:
		return &ddb.AttributeValueMemberS{Value: v.String()}, nil
	case lambdaevents.DataTypeNumber:
		return &ddb.AttributeValueMemberN{Value: v.Number()}, nil
	case lambdaevents.DataTypeBoolean:
		return &ddb.AttributeValueMemberBOOL{Value: v.Boolean()}, nil
	case lambdaevents.DataTypeNull:
		return &ddb.AttributeValueMemberNULL{Value: true}, nil
	case lambdaevents.DataTypeBinary:
		return &ddb.AttributeValueMemberB{Value: v.Binary()}, nil
	case lambdaevents.DataTypeStringSet:
		return &ddb.AttributeValueMemberSS{Value: v.StringSet()}, nil
	case lambdaevents.DataTypeNumberSet:
		return &ddb.AttributeValueMemberNS{Value: v.NumberSet()}, nil
	case lambdaevents.DataTypeBinarySet:
		return &ddb.AttributeValueMemberBS{Value: v.BinarySet()}, nil
	case lambdaevents.DataTypeList:
		l := make([]ddb.AttributeValue, 0, len(v.List()))
		for _, e := range v.List() {
			av, err := lambdaValue(e)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &ddb.AttributeValueMemberL{Value: l}, nil
	case lambdaevents.DataTypeMap:
		m, err := lambdaImage(v.Map())
		if err != nil {
			return nil, err
		}
		return &ddb.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %v", v.DataType())
}

// FromStreams converts records read with the DynamoDB Streams API.
func FromStreams(in []streams.Record) ([]Record, error) {
	out := make([]Record, 0, len(in))
	for _, r := range in {
		if r.Dynamodb == nil {
			return nil, fmt.Errorf("events: stream record %s without its change", aws.ToString(r.EventID))
		}
		rec := Record{SequenceNumber: aws.ToString(r.Dynamodb.SequenceNumber), EventName: string(r.EventName),
			At: aws.ToTime(r.Dynamodb.ApproximateCreationDateTime).UTC()}
		var err error
		if rec.Keys, err = streamsImage(r.Dynamodb.Keys); err == nil {
			if rec.OldImage, err = streamsImage(r.Dynamodb.OldImage); err == nil {
				rec.NewImage, err = streamsImage(r.Dynamodb.NewImage)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("events: record %s: %w", rec.SequenceNumber, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

func streamsImage(m map[string]streams.AttributeValue) (map[string]ddb.AttributeValue, error) {
	if m == nil {
		return nil, nil
	}
	out := make(map[string]ddb.AttributeValue, len(m))
	for k, v := range m {
		av, err := streamsValue(v)
		if err != nil {
			return nil, fmt.Errorf("attribute %s: %w", k, err)
		}
		out[k] = av
	}
	return out, nil
}

func streamsValue(v streams.AttributeValue) (ddb.AttributeValue, error) {
	switch v := v.(type) {
	case *streams.AttributeValueMemberS:
		return &ddb.AttributeValueMemberS{Value: v.Value}, nil
	case *streams.AttributeValueMemberN:
		return &ddb.AttributeValueMemberN{Value: v.Value}, nil
	case *streams.AttributeValueMemberBOOL:
		return &ddb.AttributeValueMemberBOOL{Value: v.Value}, nil
	case *streams.AttributeValueMemberNULL:
		return &ddb.AttributeValueMemberNULL{Value: v.Value}, nil
	case *streams.AttributeValueMemberB:
		return &ddb.AttributeValueMemberB{Value: v.Value}, nil
	case *streams.AttributeValueMemberSS:
		return &ddb.AttributeValueMemberSS{Value: v.Value}, nil
	case *streams.AttributeValueMemberNS:
		return &ddb.AttributeValueMemberNS{Value: v.Value}, nil
	case *streams.AttributeValueMemberBS:
		return &ddb.AttributeValueMemberBS{Value: v.Value}, nil
	case *streams.AttributeValueMemberL:
		l := make([]ddb.AttributeValue, 0, len(v.Value))
		for _, e := range v.Value {
			av, err := streamsValue(e)
			if err != nil {
				return nil, err
			}
			l = append(l, av)
		}
		return &ddb.AttributeValueMemberL{Value: l}, nil
	case *streams.AttributeValueMemberM:
		m, err := streamsImage(v.Value)
		if err != nil {
			return nil, err
		}
		return &ddb.AttributeValueMemberM{Value: m}, nil
	}
	return nil, fmt.Errorf("unknown attribute type %T", v)
}
